"""sizing: what hardware do I need to run, fine-tune or distill this model?"""

__version__ = "0.1.0"

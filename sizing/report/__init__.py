"""Rendering: terminal tables (rich), Markdown/HTML (jinja2), spreadsheets (pandas); the JSON objects of `--json`.
Heavy imports stay inside the functions that need them so `sizing estimate` starts fast."""

from .acceptance import acceptance_format, render_acceptance, save_acceptance
from .acceptance import progress as validate_progress
from .catalog import gpu_json, gpus_table, model_json, models_table
from .core import (
    estimate_json,
    option_json,
    recommendation_json,
    recommendation_text,
    scenario_line,
)
from .distill import distill_json, distill_recommendation_json, distill_recommendation_text, distill_text
from .inference_text import estimate_text, largest_text
from .procurement import ProcurementReport, ReportOptions
from .procurement_build import build_report
from .procurement_class import build_class_report, class_file, render_class, save_class_report
from .procurement_plans import report_of
from .procurement_render import check_format, parse_format, parse_lang, render, render_file, save_report, write_report
from .rl import rl_json, rl_recommendation_json, rl_recommendation_text, rl_text
from .say import resay, say, term_lang
from .training import training_json, training_text
from .web_page import answer as web_answer
from .web_page import document as render_bytes
from .web_page import error_block as web_error
from .web_page import page as web_page

__all__ = [
    "ProcurementReport",
    "ReportOptions",
    "build_report",
    "report_of",
    "build_class_report",
    "render_class",
    "save_class_report",
    "class_file",
    "parse_format",
    "parse_lang",
    "render",
    "render_file",
    "check_format",
    "save_report",
    "write_report",
    "distill_json",
    "distill_recommendation_json",
    "distill_recommendation_text",
    "distill_text",
    "estimate_json",
    "estimate_text",
    "gpu_json",
    "gpus_table",
    "largest_text",
    "model_json",
    "models_table",
    "option_json",
    "recommendation_json",
    "recommendation_text",
    "rl_json",
    "rl_recommendation_json",
    "rl_recommendation_text",
    "rl_text",
    "scenario_line",
    "training_json",
    "training_text",
    "render_bytes",
    "web_answer",
    "web_error",
    "web_page",
    "acceptance_format",
    "render_acceptance",
    "save_acceptance",
    "validate_progress",
    "resay",
    "say",
    "term_lang",
]

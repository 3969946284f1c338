"""config.json, read once at the boundary: every value modelspec uses is checked here (a JSON integer or an
integral number, finite, within a range real models span; a JSON boolean; a string) and every error names the key
as the file writes it (`text_config.hidden_size` inside a multimodal wrapper) with a fix."""

from __future__ import annotations

import re
from pathlib import Path

from sizing.specs import SizingError

from .files import MIB, BadNumber, describe, load_json, read_capped, show

CONFIG_MAX_BYTES = 4 * MIB  # a causal-LM config.json is a few KiB; the largest (label maps) stay far below this
FIX = "fix config.json or re-download it"

# Upper bounds far beyond any published model (largest today: hidden 16-25k, 128 heads, 256 experts, 10M-token
# context, 262k vocabulary), so a number past them is a typo or a corrupt file, never a real shape.
DIM_MAX = 1 << 20  # widths: hidden, head_dim, LoRA ranks
FFN_MAX = 1 << 24  # MLP widths
COUNT_MAX = 1 << 16  # layers, heads, experts
VOCAB_MAX = 1 << 24
TOKENS_MAX = 1 << 32  # context and sliding window
_NAME = re.compile(r"[\w.-]{1,100}")  # a model_type: `llama`, `qwen2_moe`, `deepseek_v3`


class Config:
    """A parsed config.json (or its `text_config`, keys prefixed) with checked accessors."""

    def __init__(self, values: dict, path: Path, prefix: str = "") -> None:
        self.values, self.path, self.prefix = values, path, prefix
        self.used: dict[str, str] = {}  # first key of a quantity -> the key that gave it (for error messages)

    @classmethod
    def read(cls, path: Path) -> Config:
        data = read_capped(path, CONFIG_MAX_BYTES, "point --model at a Hugging Face model folder")
        values = load_json(data, path, FIX)
        if not isinstance(values, dict):
            raise SizingError(
                f"{show(path)} holds {describe(values)}, not a JSON object; is this a Hugging Face config.json?"
            )
        text = values.get("text_config") if "num_hidden_layers" not in values else None
        if text is not None and not isinstance(text, dict):
            raise SizingError(
                f"{show(path)}: 'text_config' must be an object of the language model's keys, got "
                f"{describe(text)}; {FIX}"
            )
        if text is not None:  # a multimodal wrapper keeps the language model's shape in text_config
            if "model_type" not in text and isinstance(values.get("model_type"), str):
                text = {**text, "model_type": values["model_type"]}
            return cls(text, path, "text_config.")
        return cls(values, path)

    def name(self, key: str) -> str:
        """A key as config.json spells it: the alias that gave the value (`n_embd` for hidden_size), prefixed."""
        return f"'{self.prefix}{self.used.get(key, key)}'"

    def error(self, problem: str, fix: str = FIX) -> SizingError:
        return SizingError(f"{show(self.path)}: {problem}; {fix}")

    def has(self, key: str) -> bool:
        return self.values.get(key) is not None

    def _whole(self, key: str, low: int, high: int) -> int:
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, BadNumber)):
            raise self.error(f"{self.name(key)} must be a whole number, got {describe(value)}")
        if isinstance(value, BadNumber):
            raise self.error(f"{self.name(key)} must be a whole number from {low} to {high}, got {describe(value)}")
        if isinstance(value, float) and not value.is_integer():
            raise self.error(f"{self.name(key)} must be a whole number, got {describe(value)}")
        if not low <= value <= high:
            beyond = " (no real model has more)" if value > high else ""
            raise self.error(f"{self.name(key)} is {describe(value)}, but must be from {low} to {high}{beyond}")
        return int(value)

    def count(self, *keys: str, high: int, default: int | None = None, low: int = 1) -> int:
        """The first of `keys` that is present and not null (HF configs name one quantity several ways)."""
        for key in keys:
            if self.has(key):
                self.used[keys[0]] = key
                return self._whole(key, low, high)
        if default is None:
            names = " or ".join(self.name(k) for k in keys)
            raise self.error(f"lacks {names}", "is this a Hugging Face causal-LM config.json?")
        return default

    def optional(self, key: str, high: int, low: int = 0) -> int | None:
        """An optional whole number: None when absent or null."""
        return self._whole(key, low, high) if self.has(key) else None

    def flag(self, key: str, default: bool) -> bool:
        """A JSON boolean; absent or null means `default`. "no", 0 or "false" are refused rather than guessed."""
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(
                f"{self.name(key)} must be true or false (a JSON boolean, no quotes), got {describe(value)}"
            )
        return value

    def text(self, key: str, default: str) -> str:
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise self.error(f'{self.name(key)} must be a name such as "llama", got {describe(value)}')
        return value

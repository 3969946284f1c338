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
_COMMON_WORDS = {"num", "n", "size", "of", "the", "per", "max", "config", "model"}  # words too common to relate keys


def _words(key: str) -> set[str]:
    return {w for w in re.split(r"[_\W\d]+", key.lower()) if w}


class Config:
    """A parsed config.json (or its `text_config`, keys prefixed) with checked accessors."""

    def __init__(self, values: dict, path: Path, prefix: str = "") -> None:
        self.values, self.path, self.prefix = values, path, prefix
        self.used: dict[str, str] = {}  # first key of a quantity -> the key that gave it (for error messages)
        self.seen: set[str] = set()  # every key a reader asked for, present or not (what it understood)

    @classmethod
    def read(cls, path: Path) -> Config:
        """The whole file; a multimodal wrapper's `text_config` is taken apart by the family readers (sub)."""
        data = read_capped(path, CONFIG_MAX_BYTES, "point --model at a Hugging Face model folder")
        values = load_json(data, path, FIX)
        if not isinstance(values, dict):
            raise SizingError(
                f"{show(path)} holds {describe(values)}, not a JSON object; is this a Hugging Face config.json?"
            )
        return cls(values, path)

    def sub(self, key: str, inherit: tuple[str, ...] = ()) -> Config | None:
        """The nested object `key` (text_config, vision_config, attn_config) with its keys prefixed, None when
        absent or null; `inherit` names keys it takes from this level when it lacks them (a text_config without
        its own model_type is the wrapper's)."""
        self.seen.add(key)
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(f"{self.name(key)} must be an object of keys, got {describe(value)}")
        extra = {k: self.values[k] for k in inherit if k not in value and self.values.get(k) is not None}
        return Config({**value, **extra}, self.path, f"{self.prefix}{key}.")

    def related(self, keys: tuple[str, ...], hints: tuple[str, ...] = ()) -> list[str]:
        """Keys this file has, and no reader used, that look like one of `keys` or `hints` (share a word)."""
        words = {w for k in keys + hints for w in _words(k) if w not in _COMMON_WORDS}
        found = [k for k in self.values if k not in keys and k not in self.seen and words & _words(k)]
        return [f"'{self.prefix}{show(k, 40)}'" for k in sorted(found)[:6]]

    def lacks(self, keys: tuple[str, ...], what: str, hints: tuple[str, ...] = ()) -> SizingError:
        """The refusal for a quantity none of `keys` gives: what was expected, and what the file has instead."""
        also = f"; sizing also reads it as {', '.join(self.name(k) for k in keys[1:])}" if keys[1:] else ""
        near = self.related(keys, hints)
        found = f"; the file has {', '.join(near)}, which look related but are not read for this" if near else ""
        return self.error(
            f"lacks {self.name(keys[0])} ({what}{also}){found}",
            f"add {self.name(keys[0])} as the model's own config.json has it, or check that this is a causal-LM config",
        )

    def name(self, key: str) -> str:
        """A key as config.json spells it: the alias that gave the value (`n_embd` for hidden_size), prefixed."""
        return f"'{self.prefix}{self.used.get(key, key)}'"

    def error(self, problem: str, fix: str = FIX) -> SizingError:
        return SizingError(f"{show(self.path)}: {problem}; {fix}")

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return self.values.get(key) is not None

    def absent(self, key: str) -> bool:
        """Not written at all (a null is written: it is refused where a value is needed, not defaulted)."""
        self.seen.add(key)
        return key not in self.values

    def raw(self, key: str) -> object:
        self.seen.add(key)
        return self.values.get(key)

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

    def count(
        self, *keys: str, high: int, default: int | None = None, low: int = 1, what: str = "", hints: tuple = ()
    ) -> int:
        """The first of `keys` that is present and not null (HF configs name one quantity several ways)."""
        for key in keys:
            if self.has(key):
                self.used[keys[0]] = key
                return self._whole(key, low, high)
        if default is None:
            raise self.lacks(keys, what or "a size sizing needs", hints)
        return default

    def optional(self, key: str, high: int, low: int = 0) -> int | None:
        """An optional whole number: None when absent or null."""
        return self._whole(key, low, high) if self.has(key) else None

    def flag(self, key: str, default: bool) -> bool:
        """A JSON boolean; absent or null means `default`. "no", 0 or "false" are refused rather than guessed."""
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(
                f"{self.name(key)} must be true or false (a JSON boolean, no quotes), got {describe(value)}"
            )
        return value

    def text(self, key: str, default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise self.error(f'{self.name(key)} must be a name such as "llama", got {describe(value)}')
        return value

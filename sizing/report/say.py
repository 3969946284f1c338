"""The terminal's words in the reader's language: `say(lang, key, **params)` looks the key up in the same message
catalog as the reports (templates/i18n/LANG.json, through procurement_format.messages) and fills its named fields
with str.format. The caller formats numbers (sizing.units helpers) before passing them, so a template only places
them. A rule's Finding carries its key and params (`finding_text`); the sentences the library hands over as English
strings (reasons, ways out, notes) are matched against en.json's `text.*` templates and said again (`resay`).
`term_lang` picks the language: an explicit --lang, else SIZING_LANG, else a zh locale in LC_ALL / LC_MESSAGES /
LANG (POSIX locale precedence, LC_ALL first)."""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Mapping
from typing import Any

from sizing.specs import Finding, SizingError

from .procurement import LANGS
from .procurement_format import messages

LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX: the first one set and non-empty decides


def say(lang: str, key: str, **params: Any) -> str:
    """The message `key` in `lang` with its {fields} filled from params."""
    return messages(lang)[key].format(**params)


@functools.lru_cache(maxsize=1)
def _english_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The en.json `text.*` templates as patterns, the longest literal text first (the most specific wins): the
    sentences the library hands over as English strings (reasons, ways out, notes, assumptions)."""
    out = []
    for key, template in messages("en").items():
        if not key.startswith("text."):
            continue
        pattern, literal, seen = "", 0, set()
        for text, field, _, _ in string.Formatter().parse(template):
            pattern += re.escape(text)
            literal += len(text)
            if field:
                pattern += f"(?P={field})" if field in seen else f"(?P<{field}>.+?)"
                seen.add(field)
        out.append((literal, re.compile(pattern, re.S), key))
    out.sort(key=lambda item: -item[0])
    return tuple((p, k) for _, p, k in out)


def resay(lang: str, text: str) -> str:
    """A sentence the library wrote in English (an option's reasons, a way out, an estimate's note) in `lang`: the
    `text.*` template of en.json it matches, its fields taken from it and (where a field is itself such a sentence)
    said again, filled into the same key's template in `lang`. A sentence no template matches stays as it is."""
    if lang == "en":
        return text
    for pattern, key in _english_patterns():
        m = pattern.fullmatch(text)
        if m:
            return say(lang, key, **{k: resay(lang, v) for k, v in m.groupdict().items()})
    if "; " in text:  # a list of such sentences
        parts = text.split("; ")
        said = [resay(lang, part) for part in parts]
        if said != parts:
            return say(lang, "finding.sep").join(said)
    return text


def has(lang: str, key: str) -> bool:
    """Whether the message catalog of `lang` holds `key`."""
    return key in messages(lang)


def finding_text(lang: str, f: Finding) -> str:
    """A rule's finding as the reader reads it: its English message, or in another language the template of its key
    (a finding without a key keeps its English message)."""
    if lang == "en":
        return f.message
    if f.key is None:
        return resay(lang, f.message)
    return finding_said(lang, f)


def finding_said(lang: str, f: Finding) -> str:
    """A keyed finding rendered from the message catalog: its keys' templates in order, filled from its params (a
    value "@word.x" is itself a message, a word such as "no switch", said in the same language; a value the library
    wrote in English, a link's name, is said again through `resay`). In English this
    equals the finding's message (tests/test_say.py holds every rule to it)."""
    assert f.key is not None
    params = {k: say(lang, v[1:]) if v.startswith("@") else resay(lang, v) for k, v in f.params}
    return "".join(say(lang, key, **params) for key in f.key.split("|"))


def term_lang(text: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`en` or `zh`: --lang when given (an unknown value is a SizingError naming the choices), else SIZING_LANG,
    else zh when the locale (LC_ALL, LC_MESSAGES, LANG: the first that is set) starts with `zh`, else en."""
    env = os.environ if environ is None else environ
    if text is None:
        text = env.get("SIZING_LANG") or None
    if text is not None:
        from .procurement_render import LANG_ALIASES  # the report's own spellings (zh-CN, zh_Hans, en-GB, ...)

        lang = LANG_ALIASES.get(text.strip().split(".")[0].lower().replace("_", "-"))
        if lang is None:
            raise SizingError(f"unknown --lang '{text}'; use {' or '.join(LANGS)} (or set SIZING_LANG)")
        return lang
    locale = next((env[v] for v in LOCALE_VARS if env.get(v)), "")
    return "zh" if locale.lower().startswith("zh") else "en"


def bom_columns(lang: str) -> list[str]:
    """The bill of materials' column heads."""
    return [say(lang, f"term.bom.col.{c}") for c in ("part", "model", "qty", "unit", "line", "price")]


def kind_word(lang: str, kind: str) -> str:
    """A part kind (gpu, cpu, memory, ...) as the reports name it in `lang` (kind.* of the message catalog)."""
    return kind if lang == "en" else say(lang, f"kind.{kind}") if has(lang, f"kind.{kind}") else kind


def price_kind_word(lang: str, kind: str | None) -> str | None:
    """A price kind (street, list, msrp, used, estimate) in `lang` (price_kind.* of the message catalog)."""
    key = f"price_kind.{kind}"
    return kind if lang == "en" or kind is None or not has(lang, key) else say(lang, key)


def objective_word(lang: str, objective: str) -> str:
    """cost, speed or cost-per-token as `lang` says it (the value itself where the catalog has no word)."""
    key = f"term.objective.{objective}"
    return say(lang, key) if has(lang, key) else objective

"""language: rows whose prompt and answer py3langid reads as a language outside --lang."""

from functools import cache

from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register
from thrifty.errors import UserError


@cache
def identifier():
    """py3langid's model (some 140 languages, shipped in its wheel: no download), our own instance so the
    process-wide one's language set is left alone."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def known_languages() -> list[str]:
    return sorted(str(code) for code in identifier().nb_classes)


def check_languages(codes: list[str]) -> list[str]:
    """The --lang codes, lower-cased, each one py3langid knows."""
    wanted = [c.strip().lower() for c in codes if c.strip()]
    unknown = [c for c in wanted if c not in known_languages()]
    if unknown or not wanted:
        raise UserError(
            f"--lang {','.join(codes)}: unknown language code(s) {', '.join(unknown) or '(none given)'}; "
            f"use ISO 639-1 codes py3langid knows, such as en, sv, de, fr"
        )
    return wanted


def detect(text: str) -> str:
    """The language code of `text` (ISO 639-1, e.g. "en")."""
    return str(identifier().classify(text)[0])


@register(
    "language", "prompt and answer in a language not in --lang (py3langid)", enabled=lambda s: bool(s.langs)
)
def language(rows: list[Row], settings: Settings) -> list[Removal]:
    wanted = set(settings.langs or ())
    out = []
    for row in rows:
        code = detect(row.text)
        if code not in wanted:
            out.append(Removal(row.index, f"language {code} (not {', '.join(sorted(wanted))})"))
    return out

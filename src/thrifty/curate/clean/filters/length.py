"""length: answers shorter than --min-answer-tokens or longer than --max-answer-tokens, counted in
words, or in tokens of --model's tokenizer when one is given."""

from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register


@register(
    "length",
    "answer shorter than --min-answer-tokens or longer than --max-answer-tokens",
    enabled=lambda s: s.min_answer_tokens > 0 or s.max_answer_tokens is not None,
)
def length(rows: list[Row], settings: Settings) -> list[Removal]:
    low, high, unit = settings.min_answer_tokens, settings.max_answer_tokens, settings.unit
    out = []
    for row, n in zip(rows, settings.count([r.answer for r in rows]), strict=True):
        size = f"answer {n} {unit.removesuffix('s') if n == 1 else unit}"
        if n < low:
            out.append(Removal(row.index, f"{size} (< {low})"))
        elif high is not None and n > high:
            out.append(Removal(row.index, f"{size} (> {high})"))
    return out

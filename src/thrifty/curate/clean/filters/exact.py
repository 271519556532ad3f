"""exact: rows whose prompt and answer match an earlier row's once case, whitespace and punctuation
are set aside; the first occurrence stays."""

from thrifty.curate.clean.dedup import exact_duplicates
from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register


@register("exact", "same prompt and answer as an earlier row (case, spaces and punctuation ignored)")
def exact(rows: list[Row], settings: Settings) -> list[Removal]:
    found = exact_duplicates([r.text for r in rows])
    return [
        Removal(rows[i].index, f"same text as row {rows[j].index}", rows[j].index) for i, j in found.items()
    ]

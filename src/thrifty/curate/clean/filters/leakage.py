"""leakage: training rows that repeat or nearly repeat a row of the --eval file, which would let the
evaluation score memorised answers. duplicate_of is the eval file's row number."""

from thrifty.curate.clean.dedup import matches_in
from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register


@register(
    "leakage",
    "the same or nearly the same as a row of the --eval file (exact, or Jaccard >= --near-dup)",
    enabled=lambda s: s.eval_rows is not None,
)
def leakage(rows: list[Row], settings: Settings) -> list[Removal]:
    held = settings.eval_rows or []
    found = matches_in([r.text for r in rows], [r.text for r in held], settings.near_dup)
    out = []
    for i, (j, jaccard) in found.items():
        how = "same text as" if jaccard == 1.0 else f"near-duplicate (Jaccard {jaccard:.2f}) of"
        out.append(Removal(rows[i].index, f"{how} eval row {held[j].index}", held[j].index))
    return out

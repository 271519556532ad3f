"""near-dup: rows whose character shingles overlap an earlier kept row's by at least --near-dup
(Jaccard, MinHash LSH); the earliest row of each cluster stays."""

from thrifty.curate.clean.dedup import near_duplicates
from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register


@register("near-dup", "nearly the same prompt and answer as an earlier row (MinHash Jaccard >= --near-dup)")
def near_dup(rows: list[Row], settings: Settings) -> list[Removal]:
    found = near_duplicates([r.text for r in rows], settings.near_dup)
    return [
        Removal(
            rows[i].index, f"near-duplicate of row {rows[j].index} (Jaccard {jaccard:.2f})", rows[j].index
        )
        for i, (j, jaccard) in found.items()
    ]

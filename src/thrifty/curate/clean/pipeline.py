"""`thrifty data clean` as a function: check every flag and path, read, run the enabled rules in their
fixed order over the rows still kept, scrub PII from what is kept, then write OUTPUT (the input's own
records and columns), OUTPUT-stem.removed.jsonl (every removed row, with its rule and reason) and,
last, OUTPUT-stem.clean.json (the counts). Kept + removed is the input, row for row.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thrifty.curate.clean.pii import PLACEHOLDERS
from thrifty.curate.rows import Table, answer_text, check_output, check_threshold, prompt_text, sibling
from thrifty.errors import UserError
from thrifty.io import write_json_atomic


@dataclass
class CleanOptions:
    data: str
    output: str
    eval: str | None = None
    format: str = "auto"
    near_dup: float = 0.85
    min_answer_tokens: int = 3
    max_answer_tokens: int | None = None
    max_repeat: float = 0.3
    langs: str | None = None  # comma list: keep only these languages
    pii: bool = False
    pii_regions: str = "US,GB,DE,SE"
    model: str | None = None  # tokenizer for the length rule; None: whitespace words
    trust_remote_code: bool = False
    skip: str | None = None  # comma list of rules to turn off
    progress: bool = True


@dataclass
class Outcome:
    """What happened, before anything is written."""

    kept: list[int]  # input row numbers
    removed: list[tuple[str, Any]]  # (rule name, Removal), in row order
    pii: Counter = field(default_factory=Counter)
    records: list[dict[str, Any]] = field(default_factory=list)  # the kept records, scrubbed with --pii


def clean(options: CleanOptions) -> dict[str, Any]:
    """Run `thrifty data clean`; returns the summary it writes to OUTPUT-stem.clean.json."""
    from thrifty.curate.rows import read_table, write_records

    started = time.perf_counter()
    rules, regions = check_flags(options)
    out = check_paths(options)
    table = read_table(options.data, options.format)
    held = read_table(options.eval, options.format) if options.eval else None
    settings = build_settings(options, held)
    outcome = run_rules(table, rules, settings, options.progress)
    outcome.records = [table.records[i] for i in outcome.kept]
    if regions:
        from thrifty.curate.clean.pii import scrub_record

        outcome.records = [scrub_record(r, regions, outcome.pii) for r in outcome.records]
    write_records(out, outcome.records, table.columns())
    write_removed(sibling(out, "removed.jsonl"), outcome, table)
    summary = summarize(options, out, table, rules, settings, outcome, time.perf_counter() - started)
    write_json_atomic(sibling(out, "clean.json"), summary)  # last: its presence says the rest is whole
    return summary


def check_flags(options: CleanOptions) -> tuple[list, tuple[str, ...]]:
    """Every flag checked before any file is read: the rules that will run and the PII regions."""
    from thrifty.curate.clean.filters import ORDER, ordered

    check_threshold("--near-dup", options.near_dup)
    check_threshold("--max-repeat", options.max_repeat)
    if options.min_answer_tokens < 0:
        raise UserError(f"--min-answer-tokens {options.min_answer_tokens}: must be 0 (off) or more")
    high = options.max_answer_tokens
    if high is not None and high < max(1, options.min_answer_tokens):
        raise UserError(
            f"--max-answer-tokens {high}: must be at least 1 and at least --min-answer-tokens "
            f"{options.min_answer_tokens}"
        )
    skip = [s.strip() for s in (options.skip or "").split(",") if s.strip()]
    if unknown := [s for s in skip if s not in ORDER]:
        raise UserError(f"--skip {','.join(unknown)}: unknown rule(s); rules: {', '.join(ORDER)}")
    if options.langs is not None:
        from thrifty.curate.clean.filters.language import check_languages

        check_languages(options.langs.split(","))
    regions: tuple[str, ...] = ()
    if options.pii:
        from thrifty.curate.clean.pii import check_regions

        regions = check_regions(options.pii_regions)
    return [r for r in ordered() if r.name not in skip], regions


def check_paths(options: CleanOptions) -> Path:
    """OUTPUT and the two files beside it: none may be an input, and OUTPUT's folder must exist."""
    inputs: list[str | Path] = [options.data] + ([options.eval] if options.eval else [])
    out = check_output(options.output, inputs)
    for name in ("removed.jsonl", "clean.json"):
        beside = sibling(out, name)
        check_output(str(beside), inputs)
        if beside.resolve() == out.resolve():
            raise UserError(f"{out}: name the output so its .{name} file is another file")
    return out


def rows_of(table: Table) -> list:
    """The rules' view of each record: prompt and the text training learns."""
    from thrifty.curate.clean.filters import Row

    rows = []
    for i, example in enumerate(table.examples):
        if "messages" in example:
            rows.append(Row(i, prompt_text(example), answer_text(example)))
        else:
            rows.append(Row(i, "", example.get("text", "")))
    return rows


def build_settings(options: CleanOptions, held: Table | None):
    from thrifty.curate.clean.filters import Settings

    settings = Settings(
        near_dup=options.near_dup,
        min_answer_tokens=options.min_answer_tokens,
        max_answer_tokens=options.max_answer_tokens,
        max_repeat=options.max_repeat,
        langs=[c.strip().lower() for c in options.langs.split(",") if c.strip()] if options.langs else None,
        eval_rows=rows_of(held) if held is not None else None,
    )
    if options.model:
        from thrifty.curate.rows import load_tokenizer

        settings.count = token_counter(load_tokenizer(options.model, options.trust_remote_code))
        settings.unit = "tokens"
    return settings


def token_counter(tokenizer: Any):
    """Tokens per text, without special tokens (an answer's own length, not the template's)."""

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return count


def run_rules(table: Table, rules: list, settings, progress: bool) -> Outcome:
    """Each enabled rule over the rows the earlier ones kept."""
    from tqdm import tqdm

    rows = rows_of(table)
    removed: list[tuple[str, Any]] = []
    active = [r for r in rules if r.enabled(settings)]
    for rule in tqdm(active, desc="clean", unit="rule", disable=not progress):
        gone = rule.apply(rows, settings)
        removed.extend((rule.name, g) for g in gone)
        dropped = {g.row for g in gone}
        rows = [r for r in rows if r.index not in dropped]
    removed.sort(key=lambda pair: pair[1].row)
    return Outcome([r.index for r in rows], removed)


def write_removed(path: Path, outcome: Outcome, table: Table) -> None:
    from thrifty.curate.rows import write_records

    lines = [
        {
            "row": g.row,
            "rule": rule,
            "reason": g.reason,
            "duplicate_of": g.duplicate_of,
            "record": table.records[g.row],
        }
        for rule, g in outcome.removed
    ]
    write_records(path, lines)


def summarize(options, out: Path, table: Table, rules: list, settings, outcome: Outcome, seconds: float):
    active = [r.name for r in rules if r.enabled(settings)]
    by_rule = Counter(rule for rule, _ in outcome.removed)
    return {
        "input": str(table.path),
        "output": str(out),
        "removed_file": str(sibling(out, "removed.jsonl")),
        "format": table.format,
        "rows": len(table),
        "kept": len(outcome.kept),
        "removed": len(outcome.removed),
        "removed_by_rule": {name: by_rule.get(name, 0) for name in active},
        "rules": active,
        "settings": {
            "near_dup": options.near_dup,
            "min_answer_tokens": options.min_answer_tokens,
            "max_answer_tokens": options.max_answer_tokens,
            "max_repeat": options.max_repeat,
            "lang": settings.langs,
            "eval": options.eval,
            "length_unit": settings.unit,
            "model": options.model,
        },
        "pii": {kind: outcome.pii.get(kind, 0) for kind in PLACEHOLDERS} if options.pii else None,
        "seconds": round(seconds, 3),
    }

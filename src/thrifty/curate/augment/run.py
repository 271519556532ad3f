"""`thrifty data augment`, top to bottom: check every flag, the input and the output (before any model
loads), make candidates with each selected kind, keep those the filter passes, write OUTPUT (the
original rows unchanged, then the augmented ones, in the input's format and columns), the rejected
candidates with their reasons (OUTPUT-stem.rejected.jsonl) and last the summary
OUTPUT-stem.augment.json.

An augmented row is a deep copy of its source record with the prompt column replaced and two columns
added: `augmented_from` (the source row number, 0-based; the hold-out keeps such rows out of
evaluation, see thrifty.data.augmented) and `augmentation` (the kind). Rows that already carry
`augmented_from` are copied, not augmented again.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thrifty.curate.augment.filters import Limits, normalise, rejection
from thrifty.curate.augment.generation import Context
from thrifty.curate.augment.options import AugmentOptions, check_options
from thrifty.curate.augment.questions import prompt_of, with_prompt
from thrifty.curate.augment.registry import AUGMENTERS, Candidate, Source
from thrifty.curate.rows import (
    AUGMENTED,
    Table,
    answer_text,
    check_output,
    read_table,
    sibling,
    write_records,
)
from thrifty.curate.stopping import stop_on_signals
from thrifty.errors import UserError

KIND_COLUMN = "augmentation"
SUMMARY, REJECTED = "augment.json", "rejected.jsonl"  # beside OUTPUT: out.jsonl -> out.augment.json


@dataclass
class Tally:
    made: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> candidates


@dataclass
class AugmentResult:
    input: str
    output: str
    summary: str
    rejected_file: str  # every rejected candidate with its reason, to judge the filter by
    format: str
    rows: int  # in the input, all copied
    sources: int  # rows augmented (after --limit, without prompt-less or already augmented rows)
    generator: str | None  # the model that rewrote (None: synonyms only)
    kinds: dict[str, Tally]
    seconds: float
    complete: bool  # False after a stop signal: fewer candidates were made

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        rejected: dict[str, int] = {}
        for tally in data["kinds"].values():
            tally["rejected"] = dict(sorted(tally["rejected"].items()))
            for reason, count in tally["rejected"].items():
                rejected[reason] = rejected.get(reason, 0) + count
        kept = sum(t.kept for t in self.kinds.values())
        data.update(
            made=sum(t.made for t in self.kinds.values()), kept=kept, rejected=dict(sorted(rejected.items()))
        )
        data["rows_written"] = self.rows + kept
        return data


def augment(options: AugmentOptions) -> AugmentResult:
    from thrifty.curate.generator import check_generator, load_generator
    from thrifty.data.readers import check_readable

    started = time.perf_counter()
    kinds = check_options(options)
    check_readable(options.data)
    output = check_output(options.output, [options.data])
    for name in (SUMMARY, REJECTED):  # neither may overwrite the input either
        check_output(str(sibling(output, name)), [options.data])
    needs_model = any(AUGMENTERS[k].needs_model for k in kinds)
    for kind in kinds:
        if AUGMENTERS[kind].check:
            AUGMENTERS[kind].check()
    if needs_model:
        check_generator(options.generator_name())
    table = read_table(options.data, options.format)
    sources = sources_of(table, options.limit)
    generator = None
    if needs_model:  # the run folder's system prompt is for answering, not rewriting: left out
        model, tokenizer, _ = load_generator(
            options.generator_name(), options.device, options.trust_remote_code
        )
        generator = (model, tokenizer, None)
    with stop_on_signals("augment", "finishing this batch, then writing what was made") as stop:
        ctx = Context(options, generator, stop)
        rows, rejected, tallies = make_rows(table, sources, kinds, ctx)
    write_records(output, table.records + rows, [*table.columns(), *new_columns(table)])
    write_records(sibling(output, REJECTED), rejected)
    result = AugmentResult(
        input=str(table.path),
        output=str(output),
        summary=str(sibling(output, SUMMARY)),
        rejected_file=str(sibling(output, REJECTED)),
        format=table.format,
        rows=len(table),
        sources=len(sources),
        generator=options.generator_name() if needs_model else None,
        kinds=tallies,
        seconds=round(time.perf_counter() - started, 3),
        complete=stop.reason is None,
    )
    write_summary(Path(result.summary), result)
    return result


def sources_of(table: Table, limit: int | None) -> list[Source]:
    """The rows to augment: the first `limit` that have a prompt and are not augmented themselves."""
    if table.format == "text":
        raise UserError(
            f"{table.path}: plain text has no prompt to rewrite; use an instruction format "
            "(alpaca, chat, sharegpt, prompt_completion)"
        )
    sources = []
    for row, (record, example) in enumerate(zip(table.records[:limit], table.examples, strict=False)):
        prompt = prompt_of(record, table.format)
        if prompt and record.get(AUGMENTED) in (None, ""):
            sources.append(Source(row, prompt, answer_text(example)))
    if not sources:
        raise UserError(
            f"{table.path}: no row has a prompt to augment (each needs a user turn before its answer)"
        )
    return sources


def make_rows(
    table: Table, sources: list[Source], kinds: list[str], ctx: Context
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Tally]]:
    """The kept candidates as records (by source row, then kind), the rejected ones with their reason,
    and each kind's counts."""
    limits = Limits(min_similarity=ctx.options.min_similarity, max_similarity=ctx.options.max_similarity)
    taken = {normalise(p) for p in (prompt_of(r, table.format) for r in table.records) if p}
    by_row = {s.row: s for s in sources}
    kept: list[tuple[int, int, Candidate]] = []
    rejected: list[dict[str, Any]] = []
    tallies: dict[str, Tally] = {}
    for order, kind in enumerate(kinds):
        augmenter, tally = AUGMENTERS[kind], tallies.setdefault(kind, Tally())
        for candidate in augmenter.make(sources, ctx):
            source = by_row[candidate.row]
            tally.made += 1
            reason = rejection(
                candidate.prompt, source.prompt, source.answer, taken, limits, augmenter.near_copies_ok
            )
            if reason:
                tally.rejected[reason] = tally.rejected.get(reason, 0) + 1
                rejected.append(
                    {
                        AUGMENTED: candidate.row,
                        KIND_COLUMN: kind,
                        "prompt": candidate.prompt,
                        "reason": reason,
                    }
                )
                continue
            tally.kept += 1
            taken.add(normalise(candidate.prompt))
            kept.append((candidate.row, order, candidate))
    kept.sort(key=lambda item: item[:2])  # stable: a kind's candidates for a row stay in their order
    return [as_record(table, c) for _, _, c in kept], rejected, tallies


def as_record(table: Table, candidate: Candidate) -> dict[str, Any]:
    record = with_prompt(table.records[candidate.row], table.format, candidate.prompt)
    record[AUGMENTED] = candidate.row
    record[KIND_COLUMN] = candidate.kind
    return record


def new_columns(table: Table) -> list[str]:
    columns = table.columns()
    return [c for c in (AUGMENTED, KIND_COLUMN) if c not in columns]


def write_summary(path: Path, result: AugmentResult) -> None:
    """Written last: its presence says OUTPUT and the rejected file are whole."""
    from thrifty.io import write_json_atomic

    write_json_atomic(path, result.as_dict())
    if not result.complete:
        print(
            f"augment: stopped early; {result.output} holds every original row and the augmented rows made "
            "before the stop; rerun the same command for all",
            file=sys.stderr,
        )


def summary_line(data: dict[str, Any]) -> str:
    rejected = ", ".join(f"{reason} {n}" for reason, n in data["rejected"].items()) or "none"
    return (
        f"{data['output']}: {data['rows']} rows + {data['kept']} augmented (made {data['made']} from "
        f"{data['sources']} rows; rejected: {rejected}), {data['seconds']:.1f} s; summary in {data['summary']}"
    )


def dumps(result: AugmentResult) -> str:
    return json.dumps(result.as_dict(), indent=2)

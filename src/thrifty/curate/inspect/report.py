"""`thrifty data inspect`'s figures as report.md and as a terminal table."""

from typing import Any


def share(value: float) -> str:
    return f"{value:.1%}"


def lines(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, figure) pairs both the table and the markdown show."""
    t, a, d, split = figures["tokens"], figures["answers"], figures["duplicates"], figures["split"]
    langs = ", ".join(f"{code} {n}" for code, n in list(figures["languages"].items())[:5])
    out = [
        ("rows", f"{figures['rows']} ({figures['format']})"),
        ("train / eval", f"{split['train']} / {split['eval']} ({split['eval_source']})"),
        ("tokens per example", _spread(t) + f", {t['total']:,} in all"),
        (
            f"truncated at {t['max_seq_len']}",
            f"{t['truncated']} ({share(t['truncated_share'])}); {t['dropped']} with nothing left to learn",
        ),
        ("answer tokens", _spread(a)),
        ("near-empty answers (< 3 tokens)", f"{a['near_empty']} ({share(a['near_empty_share'])})"),
        ("answers repeating the prompt / looping", f"{a['repeat_prompt']} / {a['looping']}"),
        ("exact duplicates", f"{d['exact']} ({share(d['exact_share'])})"),
        (
            f"near-duplicates (Jaccard >= {d['near_dup_threshold']:g})",
            f"{d['near']} ({share(d['near_share'])})",
        ),
        ("train rows leaking into eval", f"{d['leakage']} ({share(d['leakage_share'])})"),
        ("languages", langs),
    ]
    return out + cost_lines(figures["cost"])


def cost_lines(c: dict[str, Any]) -> list[tuple[str, str]]:
    here = f"~{c['minutes_here']:.3g} min" if c["minutes_here"] else "unknown for this device"
    out = [
        ("training tokens, one epoch", f"{c['train_tokens']:,} ({c['method']}, {c['flops']:.3g} FLOPs)"),
        (
            f"one epoch on this machine ({c['device']}, {c['precision']})",
            f"{here} (MFU {c['mfu']:.0%}, {c['mfu_source']})",
        ),
    ]
    gpu = c.get("gpu")
    if gpu:
        price = (
            f"{dollars(gpu['usd'])} ({gpu['provider']} {gpu['pricing']}, ${gpu['usd_per_hour']:g}/h)"
            if gpu["usd"] is not None
            else "no price in the catalog"
        )
        fits = "" if gpu["fits"] else "; does not fit its memory as planned"
        out.append(
            (f"one epoch on {gpu['gpu']} ({gpu['precision']})", f"~{gpu['minutes']:.3g} min, {price}{fits}")
        )
    return out


def dollars(usd: float) -> str:
    """Cents for real jobs, significant digits for a toy one ($0.000012, not $0.00)."""
    return f"${usd:.2f}" if usd >= 0.1 else f"${usd:.2g}"


def _spread(d: dict[str, Any]) -> str:
    return f"median {d['median']:g}, mean {d['mean']:g}, p95 {d['p95']:g}, max {d['max']}"


def markdown(figures: dict[str, Any]) -> str:
    rows = "\n".join(f"| {what} | {value} |" for what, value in lines(figures))
    langs = "\n".join(f"| {code} | {n} |" for code, n in figures["languages"].items())
    return f"""# Data report: {figures["file"]}

Tokenizer of `{figures["model"]}`; examples rendered and tokenized as `thrifty train` does.

| | |
|---|---|
{rows}

![training tokens per example](token_lengths.png)

![answer lengths](answer_lengths.png)

## Languages (py3langid, prompt + answer)

| language | rows |
|---|---|
{langs}

Cost: the planner's estimate for one epoch over the training split (`thrifty plan` explains the model).
`thrifty data clean` removes duplicates, leakage, near-empty and looping answers and other languages.
"""


def print_table(figures: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("figure")
    for what, value in lines(figures):
        table.add_row(what, value)
    console = Console()
    console.print(f"{figures['file']}: tokenizer of {figures['model']}")
    console.print(table)
    console.print(f"report: {figures['files']['report']}")

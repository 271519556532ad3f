"""eval.md and the terminal table: base and fine-tuned side by side, then example answers."""

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

NAMES = {"base": "base", "base_few_shot": "base few-shot", "fine_tuned": "fine-tuned"}
MODELS = ("base", "base_few_shot", "fine_tuned")  # the table's columns, in this order


def name_of(report: dict[str, Any], model: str) -> str:
    if model == "base_few_shot" and report.get("few_shot"):
        return f"base {report['few_shot']['k']}-shot"
    return NAMES[model]


def models_in(report: dict[str, Any], where: dict[str, Any]) -> list[str]:
    return [m for m in MODELS if m in where]


def metric_rows(report: dict[str, Any]) -> list[list[str]]:
    """[what, base?, fine-tuned, delta?] rows; the base and delta columns only with --compare-base."""
    models = report["models"]
    order = models_in(report, models)
    rows = [["perplexity", *(f"{models[m]['perplexity']:.3f}" for m in order)]]
    rows.append(["loss (nats/token)", *(f"{models[m]['loss']:.4f}" for m in order)])
    for metric in models["fine_tuned"].get("scores", {}):
        rows.append([metric, *(f"{models[m]['scores'][metric]:.3f}" for m in order)])
    rows.append(["tokens/s (generation)", *(_num(models[m].get("tokens_per_second")) for m in order)])
    rows.append(["peak memory (GiB)", *(f"{models[m]['peak_memory_bytes'] / 2**30:.2f}" for m in order)])
    rows += preference_rows(report, len(order))
    delta = report.get("delta") or {}
    if delta:
        lookup = {"perplexity": "perplexity", "loss (nats/token)": "loss"}
        for row in rows:
            key = lookup.get(row[0], row[0])
            row.append(f"{delta[key]:+.3f}" if key in delta else "")
    return rows


def preference_rows(report: dict[str, Any], columns: int) -> list[list[str]]:
    """On preference pairs: the fine-tuned model's margin and accuracy against the base (the base's own
    are 0 by definition: it is the reference), and the win rate over the base's answers."""
    pref = report.get("preference") or {}
    tuned = pref.get("fine_tuned", {})
    blank = [""] * (columns - 1)  # the base column, when there is one
    rows = [
        [label, *blank, f"{tuned[key]:.3f}"]
        for label, key in (
            ("reward margin (vs base)", "reward_margin"),
            ("preference accuracy", "preference_accuracy"),
        )
        if key in tuned
    ]
    if "win_rate" in pref:
        rows.append([f"win rate over base ({pref['judge']})", *blank, f"{pref['win_rate']:.3f}"])
    return rows


def headers(report: dict[str, Any]) -> list[str]:
    cols = ["", *(name_of(report, m) for m in models_in(report, report["models"]))]
    return cols + (["delta"] if report.get("delta") else [])


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation of {report['run']}",
        "",
        f"{report['model']} + {report['method']}, {report['examples']} examples from `{report['data']}` "
        f"({report['data_format']}); greedy answers, at most {report['max_new_tokens']} new tokens, "
        f"batches of {report['batch_size']}.",
        "",
        _md_table(headers(report), metric_rows(report)),
    ]
    if report.get("few_shot"):
        lines += ["", few_shot_note(report)]
    if report.get("lm_eval"):
        lines += ["", "## lm-evaluation-harness", "", _md_table(*lm_eval_table(report["lm_eval"]))]
    if report["samples"]:
        lines += ["", "## Example answers", ""]
        for sample in report["samples"]:
            lines += [f"**Prompt:** {sample['prompt']}", "", f"- reference: {sample['reference']}"]
            lines += [f"- {name_of(report, m)}: {sample[m]}" for m in models_in(report, sample)]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def lm_eval_table(results: dict[str, dict[str, dict[str, float]]]) -> tuple[list[str], list[list[str]]]:
    models = [m for m in ("base", "fine_tuned") if m in results]
    rows = []
    for task, scores in results["fine_tuned"].items():
        for metric in scores:
            rows.append(
                [task, metric, *(f"{results[m].get(task, {}).get(metric, float('nan')):.4f}" for m in models)]
            )
    return ["task", "metric", *(NAMES[m] for m in models)], rows


def write_markdown(report: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(markdown(report), encoding="utf-8")
    os.replace(tmp, path)


def print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"eval {report['run']} ({report['examples']} examples)")
    for i, column in enumerate(headers(report)):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in metric_rows(report):
        table.add_row(*row)
    console = Console(width=140)
    console.print(table)
    if report.get("few_shot"):
        console.print(few_shot_note(report))
    if report.get("lm_eval"):
        head, rows = lm_eval_table(report["lm_eval"])
        harness = Table(title="lm-evaluation-harness")
        for column in head:
            harness.add_column(column)
        for row in rows:
            harness.add_row(*row)
        console.print(harness)
    for sample in report["samples"][:2]:
        console.print(f"[bold]prompt[/bold]: {sample['prompt']}")
        console.print(f"  reference: {sample['reference']}")
        for m in models_in(report, sample):
            console.print(f"  {name_of(report, m)}: {sample[m]}")


def few_shot_note(report: dict[str, Any]) -> str:
    """What the few-shot column is, what it cost per query, and how many prompts had to be cut."""
    fs = report["few_shot"]
    delta = report.get("delta_vs_few_shot", {}).get("loss")
    versus = f" Fine-tuned minus {fs['k']}-shot loss: {delta:+.4f} nats/token." if delta is not None else ""
    return (
        f"{name_of(report, 'base_few_shot')}: the base model with up to {fs['k']} of the run's "
        f"{fs['pool']} training examples ({fs['pick']}) as earlier turns before each question; the loss "
        f"is on the same answer tokens as the other columns. {fs['shots_per_prompt']:.2f} shots per prompt; "
        f"{fs['shortened']} prompts lost shots and {fs['truncated']} were truncated to fit "
        f"data.max_seq_len={fs['max_seq_len']}. Each query's prompt is {fs['prompt_tokens_per_query']:.0f} "
        f"tokens instead of {fs['zero_shot_prompt_tokens_per_query']:.0f} zero-shot "
        f"({fs['prompt_token_ratio']:.1f}x the prompt to process per query).{versus}"
    )


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)


def _num(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"

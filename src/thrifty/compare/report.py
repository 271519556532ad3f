"""The comparison report: a table (Markdown and HTML), two PNG plots and a recommendation."""

import html
import math
from pathlib import Path
from typing import Any

COLUMNS = (
    "strategy",
    "status",
    "eval loss",
    "perplexity",
    "eval loss before",
    "trainable params",
    "model params",
    "peak memory GiB",
    "tokens/s",
    "wall s",
    "steps",
    "$",
)
# Shown (after status) when the strategies were ranked on held-out preference pairs.
PREFERENCE_COLUMNS = ("preference accuracy", "reward margin")


def rows(results: list[dict[str, Any]], gpu: str | None) -> list[dict[str, Any]]:
    """One flat row per strategy; dollars on `gpu` when one is given."""
    from thrifty.compare.dollars import run_dollars

    out = []
    for r in results:
        row: dict[str, Any] = {"strategy": r["strategy"], "status": r["status"], "error": r.get("error")}
        if r["status"] == "ok":
            s = r["summary"]
            row.update(
                {
                    "eval loss": s["eval_loss_after"],
                    "perplexity": s["perplexity_after"],
                    "eval loss before": s["eval_loss_before"],
                    "trainable params": s["trainable_params"],
                    "model params": s.get("total_params"),  # smaller after a prune stage
                    "peak memory GiB": s["peak_memory_bytes"] / 2**30,
                    "tokens/s": s["tokens_per_second"],
                    "wall s": s["wall_seconds"],
                    "steps": s["steps"],
                }
            )
            if r.get("few_shot"):  # what few-shot moves to inference: prompt tokens per query
                row["prompt tokens per query"] = r["few_shot"]["prompt_tokens_per_query"]
                row["zero-shot prompt tokens"] = r["few_shot"]["zero_shot_prompt_tokens_per_query"]
            pref = r.get("preference") or {}
            row["preference accuracy"] = pref.get("preference_accuracy")
            row["reward margin"] = pref.get("reward_margin")
            # A staged strategy (sft+dpo) costs what its stages cost, each at its own method's MFU.
            stages = r.get("stages") or [{"summary": s, "method": r.get("method", r["strategy"])}]
            if r.get("baseline"):  # few-shot trains nothing: its price is paid per query (see its note)
                row["$"] = 0.0 if gpu else None
            else:
                row["$"] = (
                    sum(run_dollars(st["summary"], st["method"], gpu)["usd"] for st in stages)
                    if gpu
                    else None
                )
        out.append(row)
    return out


def cost_key(table: list[dict[str, Any]]) -> str:
    """Rank cost in dollars when the runs were priced on a GPU, else in wall seconds here."""
    ok = [r for r in table if r["status"] == "ok"]
    return "$" if ok and ok[0]["$"] is not None else "wall s"


def quality(table: list[dict[str, Any]]) -> tuple[str, float]:
    """The column strategies are ranked on and its sign (lower sign x value is better): held-out
    preference accuracy when every strategy was scored on pairs (eval losses of different objectives
    do not compare), else held-out eval loss."""
    ok = [r for r in table if r["status"] == "ok"]
    if ok and all(r.get("preference accuracy") is not None for r in ok):
        return "preference accuracy", -1.0
    return "eval loss", 1.0


def pareto(table: list[dict[str, Any]]) -> list[str]:
    """Strategies no other beats on both quality and dollars (wall seconds without a GPU price)."""
    ok = [r for r in table if r["status"] == "ok"]
    cost = cost_key(table)
    key, sign = quality(table)

    def q(r):
        return sign * r[key]

    front = []
    for r in ok:
        dominated = any(
            o[cost] <= r[cost] and q(o) <= q(r) and (o[cost] < r[cost] or q(o) < q(r)) for o in ok
        )
        if not dominated:
            front.append(r["strategy"])
    return front


def recommend(table: list[dict[str, Any]], gpu: str | None) -> str:
    ok = [r for r in table if r["status"] == "ok"]
    if not ok:
        return "No strategy finished; see the errors in the table."
    cost = cost_key(table)
    key, sign = quality(table)
    best = min(ok, key=lambda r: sign * r[key])
    front = [r for r in ok if r["strategy"] in pareto(table)]
    # Within 2% of the best held-out loss (2 points of accuracy), take the cheapest: the difference is
    # below run-to-run noise.
    if key == "eval loss":
        near = [r for r in front if r["eval loss"] <= best["eval loss"] * 1.02]
    else:
        near = [r for r in front if r[key] >= best[key] - 0.02]
    pick = min(near, key=lambda r: r[cost])
    unit = f"${pick['$']:.3g} on {gpu}" if gpu else f"{pick['wall s']:.0f} s here"
    if key == "eval loss":
        quality_text = f"held-out eval loss {pick['eval loss']:.4f} (perplexity {pick['perplexity']:.2f})"
    else:
        quality_text = (
            f"held-out preference accuracy {pick[key]:.3f} (reward margin {pick['reward margin']:.3f}) "
            "against the base"
        )
    text = (
        f"Use **{pick['strategy']}**: {quality_text} for {unit}, training {pick['trainable params']:,} "
        f"parameters with a peak of {pick['peak memory GiB']:.2f} GiB."
    )
    if pick is not best:
        text += (
            f" {best['strategy']} reached {best[key]:.4f}, within {'2%' if key == 'eval loss' else '0.02'}, "
            f"at {best[cost] / max(pick[cost], 1e-12):.1f}x the cost."
        )
    scratch = next((r for r in ok if r["strategy"] == "scratch"), None)
    if scratch and pick["strategy"] != "scratch" and key == "eval loss":
        text += (
            f" Starting from the pretrained model beats training from scratch by "
            f"{scratch['eval loss'] - pick['eval loss']:.2f} nats of eval loss on the same budget."
        )
    if pick.get("prompt tokens per query"):
        text += few_shot_caveat(pick)
    failed = [r["strategy"] for r in table if r["status"] != "ok"]
    if failed:
        text += f" Failed: {', '.join(failed)} (see the table)."
    return text


def few_shot_caveat(row: dict[str, Any]) -> str:
    """What recommending few-shot leaves out: the shots' tokens are paid on every query."""
    shot, zero = row["prompt tokens per query"], row["zero-shot prompt tokens"]
    if shot <= zero:
        return " No shot fit within data.max_seq_len, so this is the base model zero-shot."
    return (
        f" {row['strategy']} trains nothing, but each query then carries {shot:.0f} prompt tokens instead "
        f"of {zero:.0f} ({shot / max(zero, 1e-9):.1f}x): weigh that against the traffic you expect."
    )


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column == "$":
        return f"{value:.3g}"  # tiny runs cost fractions of a cent
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_losses(results: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        if r["status"] == "ok" and r.get("loss_curve"):
            steps, losses = zip(*r["loss_curve"], strict=True)
            ax.plot(steps, losses, label=r["strategy"])
    ax.set(xlabel="optimizer step", ylabel="training loss", title="Training loss by strategy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pareto(table: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    ok = [r for r in table if r["status"] == "ok"]
    cost = cost_key(table)
    key, sign = quality(table)
    front = sorted((r for r in ok if r["strategy"] in pareto(table)), key=lambda r: r[cost])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in ok:
        ax.scatter(r[cost], r[key], s=40)
        ax.annotate(r["strategy"], (r[cost], r[key]), textcoords="offset points", xytext=(5, 5))
    if front:
        ax.plot(
            [r[cost] for r in front],
            [r[key] for r in front],
            "--",
            color="gray",
            label="Pareto frontier",
        )
        ax.legend()
    ax.set(
        xlabel="dollars on the chosen GPU" if cost == "$" else "wall seconds here",
        ylabel=f"held-out {key}",
        title=f"Quality against cost ({'lower' if sign > 0 else 'upper'}-left is better)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: list[dict[str, Any]], out: Path, gpu: str | None) -> dict[str, Any]:
    """report.md, report.html, loss_curves.png, quality_vs_cost.png; returns the table and advice."""
    from thrifty.compare.fewshot import few_shot_note

    table = rows(results, gpu)
    notes = [few_shot_note(r) for r in results if r["status"] == "ok" and r.get("few_shot")]
    advice = recommend(table, gpu)
    plot_losses(results, out / "loss_curves.png")
    plot_pareto(table, out / "quality_vs_cost.png")
    front = pareto(table)
    key, _ = quality(table)
    columns = COLUMNS if key == "eval loss" else (*COLUMNS[:2], *PREFERENCE_COLUMNS, *COLUMNS[2:])
    cells = [
        [_fmt(r.get(c), c) + (" *" if c == "strategy" and r["strategy"] in front else "") for c in columns]
        for r in table
    ]
    errors = [f"- {r['strategy']}: {r['error']}" for r in table if r.get("error")]
    md = [
        "# Strategy comparison",
        "",
        advice,
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(c) + " |" for c in cells),
        "",
        f"\\* on the Pareto frontier of {key} against cost."
        + (f" Dollars: cheapest listed {gpu}." if gpu else ""),
        "",
        *notes,
        "",
        *errors,
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![quality against cost](quality_vs_cost.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    page = (
        f"<!doctype html><meta charset=utf-8><title>thrifty compare</title><h1>Strategy comparison</h1>"
        f"<p>{html.escape(advice).replace('**', '')}</p><table border=1 cellpadding=4><tr>{head}</tr>{body}"
        f"</table><p>* on the Pareto frontier.</p>{''.join(f'<p>{html.escape(e)}</p>' for e in notes + errors)}"
        f"<img src=loss_curves.png><img src=quality_vs_cost.png>"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    return {
        "table": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in table
        ],
        "pareto": front,
        "recommendation": advice,
    }

"""The sweep report: best config(s), a trials table, PNG plots and report.md in the sweep folder."""

import math
from pathlib import Path
from typing import Any

import optuna

from thrifty.sweep.objective import SweepPlan
from thrifty.sweep.space import decode_choice


def _pyplot():
    from thrifty.compare.report import _pyplot as pyplot  # the project's Agg-backend helper

    return pyplot()


def trial_rows(study: optuna.Study, objectives: list[str]) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name not in ("COMPLETE", "PRUNED", "FAIL"):
            continue
        values = dict(zip(objectives, t.values or [], strict=False)) if t.state.name == "COMPLETE" else {}
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                **{k: decode_choice(v) for k, v in t.params.items()},
                "eval_loss": t.user_attrs.get("eval_loss"),
                **({"accuracy": t.user_attrs.get("accuracy")} if "accuracy" in t.user_attrs else {}),
                **{k: v for k, v in values.items() if k not in ("eval_loss", "accuracy")},
                "steps": t.user_attrs.get("steps"),
                "seconds": t.user_attrs.get("train_seconds"),
                "cost_usd": t.user_attrs.get("cost_usd"),
            }
        )
    return rows


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best trial, or the Pareto set of a multi-objective study; none when nothing completed.

    Only trials that trained count: a repeat (`duplicate_of`) has its original's values, so it would
    be listed twice (and studies from before repeats reported their original's values held a $0 repeat
    that dominated everything)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    trained = [t for t in complete if "duplicate_of" not in t.user_attrs]
    return pareto_front(trained, study.directions) if trained else []


def pareto_front(trials: list, directions: list) -> list:
    """Trials no other trial dominates (a single objective: the first best one)."""
    signs = [-1 if d == optuna.study.StudyDirection.MAXIMIZE else 1 for d in directions]
    keys = [tuple(s * v for s, v in zip(signs, t.values, strict=True)) for t in trials]
    if len(directions) == 1:
        return [trials[keys.index(min(keys))]]

    def dominated(a: tuple) -> bool:
        return any(b != a and all(x <= y for x, y in zip(b, a, strict=True)) for b in keys)

    return [t for t, key in zip(trials, keys, strict=True) if not dominated(key)]


def importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importance of each parameter for the first objective (needs 2+ completed trials)."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2 or len({str(t.params) for t in complete}) < 2:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return optuna.importance.get_param_importances(
            study, evaluator=evaluator, target=lambda t: t.values[0]
        )
    except (RuntimeError, ValueError):  # e.g. every parameter constant among completed trials
        return {}


def plot_params(rows: list[dict[str, Any]], params: dict[str, Any], path: Path, objective: str) -> None:
    """The first objective against each hyperparameter, one panel each; log axes for log ranges."""
    plt = _pyplot()
    n = max(1, len(params))
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.6), squeeze=False)
    for ax, (key, dist) in zip(axes[0], params.items(), strict=True):
        for state, marker in (("complete", "o"), ("pruned", "x")):
            pts = [
                (r[key], r[objective]) for r in rows if r["state"] == state and r.get(objective) is not None
            ]
            if pts:
                xs = [str(x) if isinstance(x, list | str) else x for x, _ in pts]
                ax.scatter(xs, [y for _, y in pts], marker=marker, label=state)
        if getattr(dist, "log", False):
            ax.set_xscale("log")
        ax.set(xlabel=key, ylabel=objective)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(rows: list[dict[str, Any]], path: Path, objective: str, maximise: bool) -> None:
    plt = _pyplot()
    done = [r for r in rows if r.get(objective) is not None]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.scatter([r["trial"] for r in done], [r[objective] for r in done], label="trial")
    sign = -1 if maximise else 1  # track the running best as a minimum of sign * value
    best, running = [], math.inf
    for r in sorted((r for r in done if r["state"] == "complete"), key=lambda r: r["trial"]):
        running = min(running, sign * r[objective])
        best.append((r["trial"], sign * running))
    if best:
        ax.step(*zip(*best, strict=True), where="post", color="gray", label="best so far")
    ax.set(xlabel="trial", ylabel=objective, title="Optimisation history")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_importance(imp: dict[str, float], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.5 * max(1, len(imp))))
    ax.barh(list(imp)[::-1], list(imp.values())[::-1])
    ax.set(xlabel="importance (fANOVA, share of variance)", title="Parameter importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pareto(study: optuna.Study, best: list, objectives: list[str], path: Path) -> None:
    """Two objectives: every completed trial, the Pareto set joined (lower is better for minimised objectives, higher for accuracy)."""
    plt = _pyplot()
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], label="trial")
    front = sorted((t.values[1], t.values[0]) for t in best)
    if front:
        ax.plot(*zip(*front, strict=True), "--o", color="gray", label="Pareto set")
    ax.set(xlabel=objectives[1], ylabel=objectives[0], title="Pareto set")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(sweep_dir: Path, study: optuna.Study, table: bool = True) -> dict[str, Any]:
    """report.md + params.png, history.png, importance.png; returns best configs, rows and a text summary.
    `table`: also print the trials table on stderr (the CLI; the Python API returns the rows instead)."""
    from thrifty.sweep.space import parse_space

    plan = SweepPlan.load(sweep_dir)
    objectives = plan.sweep.objectives
    rows = trial_rows(study, objectives)
    best = best_trials(study)
    imp = importances(study)
    space = parse_space(plan.space)
    plots = []
    if rows:
        first = objectives[0]
        plot_params(rows, space, sweep_dir / "params.png", first)
        plot_history(rows, sweep_dir / "history.png", first, plan.sweep.direction(first) == "maximize")
        plots += ["params.png", "history.png"]
    if imp:
        plot_importance(imp, sweep_dir / "importance.png")
        plots.append("importance.png")
    if len(objectives) == 2 and best:
        plot_pareto(study, best, objectives, sweep_dir / "pareto.png")
        plots.append("pareto.png")
    best_list = [
        {"trial": t.number, "params": {k: decode_choice(v) for k, v in t.params.items()}, "values": t.values}
        for t in best
    ]
    columns = list(rows[0]) if rows else []
    label = "Pareto set" if len(objectives) > 1 else "Best"
    lines = [f"# Sweep {plan.study_name} ({plan.sweep.domain})", ""]
    counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail")}
    lines.append(
        f"{len(rows)} trials ({counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed), "
        f"sampler {plan.sweep.sampler}, pruner {plan.sweep.pruner}, search fraction {plan.sweep.search_fraction}; "
        "objective(s): " + ", ".join(f"{o} ({plan.sweep.direction(o)[:3]}imised)" for o in objectives) + "."
    )
    lines += ["", f"## {label}", ""]
    lines += [f"- trial {b['trial']}: {b['params']} -> {b['values']}" for b in best_list] or [
        "- no trial completed"
    ]
    lines += ["", "## Trials", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    if imp:
        lines += ["", "## Parameter importance", ""] + [f"- {k}: {v:.3f}" for k, v in imp.items()]
    lines += [""] + [f"![{p}]({p})" for p in plots] + [""]
    (sweep_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
    if table:
        print_table(rows, columns, {b["trial"] for b in best_list}, plan.study_name)
    text = "\n".join(lines[: lines.index("## Trials")]).replace("#", "").strip()
    return {
        "best": best_list,
        "rows": rows,
        "importance": imp,
        "text": text + f"\nreport: {sweep_dir / 'report.md'}",
    }


def best_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return summary["best"]


def print_table(rows: list[dict[str, Any]], columns: list[str], best: set[int], title: str) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep {title} (* = best)")
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        cells = [_cell(r.get(c)) for c in columns]
        cells[0] += " *" if r["trial"] in best else ""
        table.add_row(*cells)
    Console(file=sys.stderr, soft_wrap=False).print(table)

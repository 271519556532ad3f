"""Full grid vs Latin hypercube + successive halving on the same space: compute used and best-loss gap.

Both search the same discrete space (LoRA rank x learning rate) on SmolLM2-135M and the Zaragoza
construction FAQ. The grid trains every point for the full steps. The cheap search trains half as many
LHS trials on a stratified share of the data (a quarter; --quick: half) for that share of the steps
with halving pruning, then `finalize`
trains its winner on the full data for the full steps. Compute = optimizer steps summed over every
trial (+ the finalize run), also reported in measured training seconds and in wall-clock seconds of
the whole commands (`thrifty sweep` with its loading, evaluations and report; `thrifty sweep finalize`).
The cheap search's pruning evaluations use --prune-eval-examples held-out examples; every trial's
final loss, and finalize's, is on the whole held-out set. Target (issue 6, issue 17): the cheap
search's final loss within 1% of the grid's best for <= 25% of its steps and of its seconds.

Usage: .venv/bin/python bench/sweep_efficiency.py [--quick] [--steps 24] [--trials 6] [--fraction 0.25]
       [--prune-eval-examples 8]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FAQ = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"


def sweep_config(space: dict, steps: int, sweep: dict, model: str) -> dict:
    return {
        "model": {"name": model},
        "data": {"path": FAQ, "max_seq_len": 128, "val_fraction": 0.05},
        "train": {"max_steps": steps, "micro_batch_size": 4, "logging_steps": 5, "warmup_ratio": 0.1},
        "checkpoint": {"every_minutes": None},
        "sweep": {"domain": "construction", "space": space, **sweep},
    }


def run(cmd: list[str]) -> float:
    """Wall-clock seconds of one `thrifty` command, start of the process to its end."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "thrifty", *cmd, "--no-progress"], check=True)
    return time.monotonic() - start


def used(out: Path) -> tuple[int, float, list[dict]]:
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    return sum(r["steps"] or 0 for r in rows), sum(r["train_seconds"] or 0 for r in rows), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="A 2 x 3 grid and 12 steps (~a fifth of the time)."
    )
    parser.add_argument("--trials", type=int, help="Cheap-search trials (default: half the grid).")
    parser.add_argument(
        "--fraction", type=float, help="Search fraction of data and steps (default 0.25; 0.5 with --quick)."
    )
    parser.add_argument(
        "--steps", type=int, help="Optimizer steps of a full trial (default 24; 12 with --quick)."
    )
    parser.add_argument(
        "--prune-eval-examples",
        type=int,
        default=8,
        help="Held-out examples of the cheap search's pruning evaluations (default 8 of the 25).",
    )
    parser.add_argument("--model", default="smollm2-135m", help="Model (a tiny local one checks the script).")
    args = parser.parse_args()
    # The full grid is 3 ranks x 4 rates: a small version of the seeds' rank x decay x alpha grids.
    lrs = [1e-4, 3e-4, 1e-3, 3e-3] if not args.quick else [2e-4, 1e-3, 5e-3]
    ranks = [4, 8, 16] if not args.quick else [4, 16]
    steps = args.steps or (12 if args.quick else 24)
    fraction = args.fraction or (0.5 if args.quick else 0.25)
    space = {"method.rank": {"choices": ranks}, "train.learning_rate": {"choices": lrs}}
    cheap_trials = args.trials or max(2, len(ranks) * len(lrs) // 2)
    with tempfile.TemporaryDirectory(prefix="sweep-eff-") as tmp:
        work = Path(tmp)
        grid_file, cheap_file = work / "grid.yaml", work / "cheap.yaml"
        grid_file.write_text(yaml.safe_dump(sweep_config(space, steps, {"sampler": "grid"}, args.model)))
        cheap = {
            "sampler": "lhs",
            "trials": cheap_trials,
            "search_fraction": fraction,
            "pruner": "halving",
            "prune_eval_examples": args.prune_eval_examples,
        }
        cheap_file.write_text(yaml.safe_dump(sweep_config(space, steps, cheap, args.model)))
        grid_wall = run(["sweep", str(grid_file), "--output", str(work / "grid")])
        search_wall = run(["sweep", str(cheap_file), "--output", str(work / "cheap")])
        final_wall = run(["sweep", "finalize", str(work / "cheap")])
        grid_steps, grid_s, grid_rows = used(work / "grid")
        cheap_steps, cheap_s, cheap_rows = used(work / "cheap")
        final = json.loads((work / "cheap" / "final" / "summary.json").read_text())
    search_steps = cheap_steps
    cheap_steps += final["steps"]
    cheap_s += final["wall_seconds"]
    grid_best = min(r["eval_loss"] for r in grid_rows)
    gap = final["eval_loss_after"] / grid_best - 1
    result = {
        "grid": {
            "trials": len(grid_rows),
            "steps": grid_steps,
            "train_seconds": round(grid_s, 1),
            "wall_seconds": round(grid_wall, 1),
            "best_loss": grid_best,
        },
        "lhs_halving": {
            "trials": cheap_trials,
            "pruned": sum(r["state"] == "pruned" for r in cheap_rows),
            "repeats_reused": sum(r.get("duplicate_of") is not None for r in cheap_rows),
            "search_steps": search_steps,
            "finalize_steps": final["steps"],
            "steps_incl_finalize": cheap_steps,
            "train_seconds_incl_finalize": round(cheap_s, 1),
            "search_wall_seconds": round(search_wall, 1),
            "finalize_wall_seconds": round(final_wall, 1),
            "wall_seconds_incl_finalize": round(search_wall + final_wall, 1),
            "prune_eval_examples": args.prune_eval_examples,
            "final_loss": final["eval_loss_after"],
        },
        "compute_ratio_steps": round(cheap_steps / grid_steps, 3),
        "compute_ratio_train_seconds": round(cheap_s / grid_s, 3),
        "compute_ratio_wall_seconds": round((search_wall + final_wall) / grid_wall, 3),
        "best_loss_gap_percent": round(100 * gap, 2),
    }
    print(json.dumps(result, indent=2))
    print(
        f"steps ratio {result['compute_ratio_steps']:.3f}, seconds ratio "
        f"{result['compute_ratio_wall_seconds']:.3f} (wall clock of the commands; training seconds "
        f"{result['compute_ratio_train_seconds']:.3f}), best-loss gap {100 * gap:+.2f}% "
        "(target: both ratios <= 0.25, the gap within 1%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

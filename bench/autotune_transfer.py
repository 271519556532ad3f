"""Does `thrifty autotune` transfer across domains? Leave-one-domain-out on real SmolLM2 sweeps.

Each domain (three English chatterbot-corpus categories and the Zaragoza construction FAQ) is swept
with the same seeded Latin hypercube of configs, so every domain tried the same candidates. For each
domain D: fit the autotune model on the other domains' results, rank D's candidates by predicted
loss, and count a hit when the top 5 hold a config whose real eval loss is within 2% of D's best.
Two baselines: 5 configs drawn at random from the same candidates (exact hit probability), and the
rule a person would use without a model, "the 5 configs with the lowest mean relative loss on the
other domains" (possible here because every domain tried the same configs).

The sweeps' results.jsonl files are committed under bench/data/autotune/ so the evaluation reruns in
seconds; --rerun trains them again (--steps optimizer steps of 4 x 64 tokens per trial).

Usage: .venv/bin/python bench/autotune_transfer.py [--rerun [--trials 16] [--steps 24]] [--domains ...]
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "autotune"
CHATTERBOT = ("trivia", "emotion", "ai")
EVAL_EXAMPLES = 12
TOP_K = 5
WITHIN = 0.02

SWEEP = {
    "model": {"name": "smollm2-135m"},
    "data": {"max_seq_len": 64},
    "train": {"max_steps": 24, "micro_batch_size": 4, "logging_steps": 2, "warmup_ratio": 0.1},
    "checkpoint": {"every_minutes": None},
    "sweep": {
        "sampler": "lhs",
        "seed": 0,  # the same seed and space: every domain tries the same configs
        "space": {
            "method.rank": {"choices": [4, 8, 16, 32]},
            "method.alpha": {"choices": [8, 16, 32, 64]},
            "train.learning_rate": {"low": 1.0e-5, "high": 3.0e-3, "log": True},
            "train.weight_decay": {"low": 1.0e-6, "high": 1.0e-1, "log": True},
            "method.dropout": {"low": 0.0, "high": 0.2},
        },
    },
}


def chatterbot_to_alpaca(category: str, out: Path) -> int:
    """Each conversation's (statement, reply) pairs -> alpaca records; returns the count."""
    import chatterbot_corpus

    path = Path(chatterbot_corpus.__file__).parent / "data" / "english" / f"{category}.yml"
    convs = yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]
    rows = [
        {"instruction": str(c[i]), "input": "", "output": str(c[i + 1])}
        for c in convs
        for i in range(0, len(c) - 1, 2)
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def run_sweeps(domains: list[str], trials: int, steps: int, work: Path) -> None:
    for domain in domains:
        data = work / f"{domain}.jsonl"
        if domain == "construction":
            data = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
        else:
            pairs = chatterbot_to_alpaca(domain, data)
            print(f"{domain}: {pairs} pairs", file=sys.stderr)
        config = json.loads(json.dumps(SWEEP))
        config["data"]["path"] = str(data)
        # The same 12 held-out examples per domain keep each trial's two evaluations cheap on a CPU.
        config["data"]["val_fraction"] = EVAL_EXAMPLES / (503 if domain == "construction" else pairs)
        config["sweep"].update(domain=domain, trials=trials)
        config["train"]["max_steps"] = steps
        path = work / f"{domain}.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        out = work / f"sweep-{domain}"
        cmd = [sys.executable, "-m", "thrifty", "sweep", str(path), "--output", str(out), "--no-progress"]
        subprocess.run(cmd, check=True)
        (DATA / domain).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "results.jsonl", DATA / domain / "results.jsonl")


def hit_probability_random(losses: list[float], k: int) -> float:
    """P(k configs drawn without replacement include one within WITHIN of the best): 1 - C(n-g,k)/C(n,k)."""
    best = min(losses)
    good = sum(loss <= best * (1 + WITHIN) for loss in losses)
    n = len(losses)
    return 1 - math.comb(n - good, k) / math.comb(n, k) if n >= k else 1.0


def mean_rank_picks(target: list[dict], others: list[dict], k: int) -> list[int]:
    """Indices of the k target configs with the lowest mean relative loss on the other domains."""
    from thrifty.autotune.model import config_of, normalised_targets

    gaps: dict[str, list[float]] = {}
    for row, gap in zip(others, normalised_targets(others), strict=True):
        gaps.setdefault(json.dumps(config_of(row), sort_keys=True), []).append(float(gap))
    mean = {key: sum(v) / len(v) for key, v in gaps.items()}
    keys = [json.dumps(config_of(r), sort_keys=True) for r in target]
    return sorted(range(len(target)), key=lambda i: mean.get(keys[i], math.inf))[:k]


def evaluate(domains: list[str]) -> dict:
    from thrifty.autotune.model import config_of, fit, read_results

    rows = {d: read_results([DATA / d / "results.jsonl"]) for d in domains}
    table = []
    for held in domains:
        train = [r for d in domains if d != held for r in rows[d]]
        tuner = fit(train)
        target = rows[held]
        data = {
            k: target[0].get(k)
            for k in ("data_examples", "data_tokens_mean", "data_tokens_p90", "model_params")
        }
        scores = tuner.predict([config_of(r) for r in target], data)
        picks = sorted(range(len(target)), key=lambda i: scores[i])[:TOP_K]
        best = min(r["eval_loss"] for r in target)
        picked_best = min(target[i]["eval_loss"] for i in picks)
        rule_best = min(target[i]["eval_loss"] for i in mean_rank_picks(target, train, TOP_K))
        table.append(
            {
                "domain": held,
                "trials": len(target),
                "best_loss": round(best, 4),
                "top5_best_loss": round(picked_best, 4),
                "gap_percent": round(100 * (picked_best / best - 1), 2),
                "hit": picked_best <= best * (1 + WITHIN),
                "mean_rank_top5_gap_percent": round(100 * (rule_best / best - 1), 2),
                "mean_rank_hit": rule_best <= best * (1 + WITHIN),
                "random5_hit_probability": round(
                    hit_probability_random([r["eval_loss"] for r in target], TOP_K), 3
                ),
            }
        )
    return {
        "per_domain": table,
        "autotune_hit_rate": sum(r["hit"] for r in table) / len(table),
        "mean_rank_hit_rate": sum(r["mean_rank_hit"] for r in table) / len(table),
        "random_hit_rate": sum(r["random5_hit_probability"] for r in table) / len(table),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rerun", action="store_true", help="Train the sweeps again (slow) instead of reading bench/data."
    )
    parser.add_argument("--trials", type=int, default=16, help="Trials per domain with --rerun.")
    parser.add_argument("--steps", type=int, default=24, help="Optimizer steps per trial with --rerun.")
    parser.add_argument("--work", help="Folder for the sweeps with --rerun (default: a new temporary one).")
    parser.add_argument("--domains", nargs="+", default=[*CHATTERBOT, "construction"], help="Domains to use.")
    args = parser.parse_args()
    if args.rerun:
        work = Path(args.work or tempfile.mkdtemp(prefix="autotune-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        run_sweeps(
            args.domains, args.trials, args.steps, work
        )  # an interrupted rerun with the same --work resumes
    result = evaluate(args.domains)
    for row in result["per_domain"]:
        print(json.dumps(row))
    print(
        f"top-{TOP_K} within {WITHIN:.0%} of the domain's best: autotune {result['autotune_hit_rate']:.0%} of "
        f"domains, {TOP_K} random configs {result['random_hit_rate']:.0%} (expected), the {TOP_K} best on "
        f"average elsewhere {result['mean_rank_hit_rate']:.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

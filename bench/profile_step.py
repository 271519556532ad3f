"""Where a training step's time goes: torch.profiler over a few SmolLM2 LoRA steps, as shares of the step.

Trains the demo configuration (SmolLM2-135M, LoRA r16 on all linear layers, the FAQ, packed, batch 8)
once per precision, profiles `--active` optimizer steps after `--warmup` unprofiled ones, and files
every profiled microsecond (each event's self time, so nothing counts twice) under one heading:

- frozen base matmuls: mm/addmm/linear whose shapes are the base layers' (forward and backward);
- LoRA A/B matmuls: those with the adapter rank among their dimensions;
- attention: the SDPA kernel (and its backward);
- loss head: matmuls and ops with the vocabulary among their dimensions, and the cross-entropy ops;
- optimizer: everything under `Optimizer.step` / `zero_grad`;
- data: everything under the DataLoader's `__next__` (the packing collator);
- elementwise/norms/activations: every other aten op (RMSNorm, SiLU, rotary, adds, casts, clipping);
- Python and framework overhead: self time of non-aten events (the step's own Python, autograd's
  engine, hooks, the Trainer between ops).

Usage: .venv/bin/python bench/profile_step.py [--precisions fp32,bf16-base] [--active 3] [--json out.json]
"""

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HEADINGS = [
    "frozen base matmuls",
    "LoRA A/B matmuls",
    "attention",
    "loss head",
    "elementwise/norms/activations",
    "optimizer",
    "data",
    "Python and framework overhead",
]
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::_mkldnn")
LOSS_OPS = ("cross_entropy", "nll_loss", "log_softmax", "logsumexp", "LinearCrossEntropy")
ATTENTION_OPS = ("scaled_dot_product", "flash_attention", "_efficient_attention")


def heading(event, ancestors: list[str], vocab: int, rank: int) -> str:
    """The heading one profiler event's self time is filed under."""
    if any(a.startswith(("Optimizer.step", "Optimizer.zero_grad")) for a in ancestors):
        return "optimizer"
    if any(a.startswith("enumerate(DataLoader)") for a in ancestors):
        return "data"
    name = event.name
    if not name.startswith("aten::"):
        return "Python and framework overhead"
    dims = {d for shape in event.input_shapes or [] for d in (shape or [])}
    if vocab in dims or any(op in a for a in [name, *ancestors] for op in LOSS_OPS):
        return "loss head"
    if any(op in a for a in [name, *ancestors] for op in ATTENTION_OPS):
        return "attention"
    if name.startswith(MATMULS):
        return "LoRA A/B matmuls" if rank in dims else "frozen base matmuls"
    return "elementwise/norms/activations"


def shares(events, vocab: int, rank: int) -> tuple[dict[str, float], float]:
    """Seconds per heading over the profiled steps (self times), and the steps' total."""
    seconds: dict[str, float] = defaultdict(float)
    by_op: dict[str, float] = defaultdict(float)
    for event in events:
        ancestors, parent = [], event.cpu_parent
        while parent is not None:
            ancestors.append(parent.name)
            parent = parent.cpu_parent
        if not any(a.startswith("ProfilerStep") for a in [event.name, *ancestors]):
            continue  # outside the profiled steps (the Trainer's setup, the step boundary)
        where = heading(event, ancestors, vocab, rank)
        seconds[where] += event.self_cpu_time_total / 1e6
        by_op[f"{where}: {event.name}"] += event.self_cpu_time_total / 1e6
    return dict(seconds), sum(seconds.values()), dict(by_op)


def profile_precision(precision: str, args, tmp: str) -> dict:
    import torch
    from transformers import TrainerCallback

    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG
    from thrifty.train.run import train

    schedule = torch.profiler.schedule(wait=0, warmup=args.warmup, active=args.active, repeat=1)
    profiler = torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], schedule=schedule, record_shapes=True
    )

    class Step(TrainerCallback):
        def on_train_begin(self, *a, **k):
            profiler.start()

        def on_step_end(self, *a, **k):
            profiler.step()

        def on_train_end(self, *a, **k):
            profiler.stop()

    overrides = [
        f"train.precision={precision}",
        f"train.max_steps={args.warmup + args.active}",
        "data.val_fraction=0.01",  # the profile is about training steps; evaluation is not profiled
        f"output.dir={tmp}/{precision}",
        *args.set,
    ]
    config = load_config(DEMO_CONFIG, overrides)
    result = train(config, progress=False, callbacks=[Step()])
    vocab = result.model.get_output_embeddings().weight.shape[0]
    seconds, total, by_op = shares(profiler.events(), vocab, config.method.rank)
    top = sorted(by_op.items(), key=lambda kv: -kv[1])[: args.top]
    return {
        "precision": result.summary["precision"],
        "tokens_per_second": result.summary["tokens_per_second"],
        "step_seconds": total / args.active,
        "seconds": seconds,
        "shares": {h: seconds.get(h, 0.0) / total for h in HEADINGS},
        "top_ops": [{"op": name, "share": sec / total} for name, sec in top],
    }


def table(rows: list[dict]) -> str:
    head = "| where the time goes | " + " | ".join(r["precision"] for r in rows) + " |"
    lines = [head, "|---|" + "---:|" * len(rows)]
    for h in HEADINGS:
        lines.append(f"| {h} | " + " | ".join(f"{100 * r['shares'][h]:.1f}%" for r in rows) + " |")
    lines.append("| seconds per step | " + " | ".join(f"{r['step_seconds']:.2f}" for r in rows) + " |")
    lines.append(
        "| real tokens/s (whole run) | " + " | ".join(f"{r['tokens_per_second']:.1f}" for r in rows) + " |"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--precisions", default="fp32,bf16-base,bf16", help="Comma-separated train.precision values."
    )
    parser.add_argument("--warmup", type=int, default=2, help="Optimizer steps run before profiling.")
    parser.add_argument("--active", type=int, default=3, help="Optimizer steps profiled.")
    parser.add_argument("--set", action="append", default=[], help="Extra config override (repeatable).")
    parser.add_argument("--top", type=int, default=12, help="Ops listed per precision, by self time.")
    parser.add_argument("--json", help="Also write the figures here.")
    args = parser.parse_args()

    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            rows.append(profile_precision(precision, args, tmp))
            print(f"{precision}: {rows[-1]['step_seconds']:.2f} s/step", file=sys.stderr, flush=True)
    print(table(rows))
    for row in rows:  # the levers: which ops the biggest headings are made of
        print(
            f"\ntop ops, {row['precision']}: "
            + "; ".join(f"{t['op']} {100 * t['share']:.1f}%" for t in row["top_ops"])
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

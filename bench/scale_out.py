"""One process against two on this machine: `thrifty train` with the same global batch, 1 vs --nproc 2.

SmolLM2-135M LoRA (r16, all linear layers, dropout 0 so both runs draw no random masks) on the
Zaragoza FAQ, global batch 8 (micro-batch 4: 1 process accumulates 2 micro-batches, 2 processes take
one each), the same steps, seed and data, so both runs see the same examples per step. Each run is a
fresh `thrifty train --json` process; the figures come from its summary.json:

  tokens/s       real (non-padding) tokens of the whole job per second of training
  peak/rank      peak RSS of each process (CPU) or max allocated CUDA memory (GPU); the summary's
                 per-rank list, its maximum is what a device must hold
  planned/rank   the planner's per-device prediction for that strategy (summary's predicted peak)
  loss           train loss over the run and held-out loss after it: the same samples were seen

On a CPU both runs share the same cores (1 process x all threads vs 2 x half), so the ratio says what
DDP's communication and the smaller per-process GEMMs cost, not how a second device would speed it up;
on N GPUs `scaling efficiency` = tokens/s(N) / (N x tokens/s(1)) is the figure to read.

Usage: .venv/bin/python bench/scale_out.py [--steps 8] [--strategy ddp|fsdp] [--nproc 2] [--json FILE]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
GLOBAL_BATCH, MICRO = 8, 4


def run(nproc: int, steps: int, strategy: str, out: Path) -> dict:
    command = [sys.executable, "-m", "thrifty", "train", "--model", "smollm2-135m", "--data", DATA]
    command += ["--output", str(out), "--max-steps", str(steps), "--no-progress", "--json"]
    command += [f"train.micro_batch_size={MICRO}", f"train.global_batch_size={GLOBAL_BATCH}"]
    command += ["data.max_seq_len=256", "method.dropout=0", "train.logging_steps=1"]
    command += ["checkpoint.every_minutes=null"]
    if nproc > 1:
        command += ["--nproc", str(nproc), f"distributed.strategy={strategy}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"thrifty train --nproc {nproc} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def row(name: str, s: dict) -> dict:
    per_rank = s.get("peak_memory_bytes_per_rank") or [s["peak_memory_bytes"]]
    return {
        "run": name,
        "world_size": s["world_size"],
        "strategy": s["strategy"],
        "tokens_per_second": s["tokens_per_second"],
        "wall_seconds": s["wall_seconds"],
        "peak_per_rank_gib": [round(b / 2**30, 3) for b in per_rank],
        "planned_per_rank_gib": round(s["predicted_peak_memory_bytes"] / 2**30, 3),
        "train_loss": round(s["train_loss"], 5),
        "eval_loss_after": round(s["eval_loss_after"], 5),
        "train_tokens": s["train_tokens"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="Optimizer steps per run.")
    parser.add_argument("--nproc", type=int, default=2, help="Processes of the scaled-out run.")
    parser.add_argument("--strategy", default="ddp", choices=["ddp", "fsdp"], help="Its strategy.")
    parser.add_argument("--json", help="Also write the rows to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = row("1 process", run(1, args.steps, args.strategy, Path(tmp) / "one"))
        many = row(f"{args.nproc} processes", run(args.nproc, args.steps, args.strategy, Path(tmp) / "many"))
    for r in (one, many):
        print(json.dumps(r))
    ratio = many["tokens_per_second"] / one["tokens_per_second"]
    print(f"tokens/s ratio {args.nproc} vs 1 process: {ratio:.3f}")
    print(f"scaling efficiency (tokens/s per process vs 1): {ratio / args.nproc:.3f}")
    print(f"same tokens seen: {one['train_tokens'] == many['train_tokens']}")
    print(f"eval loss after, {args.nproc} vs 1: {many['eval_loss_after']} vs {one['eval_loss_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": [one, many], "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()

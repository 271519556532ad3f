"""What does preemption safety cost? Checkpoint size and write time for SmolLM2-135M LoRA, and slowdown.

Trains the demo configuration (SmolLM2-135M, LoRA r=16 on all linear layers, the FAQ data) twice in one
process: without checkpoints, and with one every `--every` steps (manifest, sha256, fsync, rename and
retention included). Prints one checkpoint's size, the mean time a checkpoint held training up, the
measured wall-time slowdown (noisy: runs on a shared machine vary ~20%) and the slowdown a checkpoint
every 50 steps implies: checkpoint seconds / (50 x seconds per step). Target: < 3%.

Usage: .venv/bin/python bench/checkpoint_overhead.py [--quick] [--steps 200] [--every 50]
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="Optimizer steps per run.")
    parser.add_argument("--every", type=int, default=50, help="Checkpoint every N steps in the second run.")
    parser.add_argument(
        "--quick", action="store_true", help="20 steps, a checkpoint every 5, batch 2 x 128 tokens."
    )
    args = parser.parse_args()
    steps, every = (20, 5) if args.quick else (args.steps, args.every)
    shape = ["train.micro_batch_size=2", "data.max_seq_len=128"] if args.quick else []

    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG
    from thrifty.train.run import train

    common = [f"train.max_steps={steps}", "data.val_fraction=0.01", "checkpoint.every_minutes=null", *shape]
    with tempfile.TemporaryDirectory() as tmp:
        plain = train(load_config(DEMO_CONFIG, [*common, f"output.dir={tmp}/plain"]), progress=False).summary
        overrides = [
            *common,
            f"output.dir={tmp}/ckpt",
            f"checkpoint.every_steps={every}",
            "checkpoint.keep_last=1",
        ]
        ckpt = train(load_config(DEMO_CONFIG, overrides), progress=False).summary
        newest = sorted((Path(tmp) / "ckpt" / "checkpoints").iterdir())[-1]
        size = folder_bytes(newest)
        files = {p.name: p.stat().st_size for p in newest.iterdir()}

    step_s = plain["wall_seconds"] / plain["steps"]
    per_ckpt = ckpt["checkpoint_seconds"] / max(ckpt["checkpoints_written"], 1)
    result = {
        "steps": steps,
        "checkpoint_every": every,
        "checkpoints_written": ckpt["checkpoints_written"],
        "checkpoint_bytes": size,
        "checkpoint_files_bytes": files,
        "checkpoint_seconds_mean": round(per_ckpt, 3),
        "seconds_per_step": round(step_s, 3),
        "wall_seconds_plain": plain["wall_seconds"],
        "wall_seconds_with_checkpoints": ckpt["wall_seconds"],
        "measured_slowdown_percent": round(100 * (ckpt["wall_seconds"] / plain["wall_seconds"] - 1), 2),
        "held_up_percent": round(100 * ckpt["checkpoint_seconds"] / ckpt["wall_seconds"], 2),
        "implied_slowdown_every_50_steps_percent": round(100 * per_ckpt / (50 * step_s), 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""torch.compile on vs off: the demo LoRA run (SmolLM2-135M, FAQ, batch 8), a few steps each.

Each setting trains in its own process (`thrifty train` on the demo config, logging every step), in the
order off, on (then on, off for a second round), and the steady-state speed is the median of the
per-step tokens/s in metrics.jsonl after the first `--skip` steps (the compiling ones: the first step
compiles, the second recompiles with dynamic shapes since packed rows change length). Also prints the
seconds the first steps took, which is what compiling costs. Prints `ratio compile on/off: X.XX` last.

--compiled regional compares train.compile=regional (each decoder block compiled) instead of on.

Usage: python bench/compile_cpu.py [--steps 10] [--skip 3] [--rounds 1] [--compiled on|regional]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thrifty.demo import DEMO_CONFIG


def run(setting: str, steps: int, out: Path) -> tuple[list[dict], float]:
    """One `thrifty train` with train.compile=`setting`; its metrics lines and wall seconds."""
    thrifty = Path(sys.executable).with_name("thrifty")
    command = [str(thrifty), "train", str(DEMO_CONFIG), "--no-progress", "--output", str(out)]
    command += ["--max-steps", str(steps), "train.logging_steps=1", f"train.compile={setting}"]
    # ~10 held-out questions instead of 50: the evaluations before and after are not what is timed.
    command += ["data.val_fraction=0.02"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compile={setting} failed:\n{done.stderr[-3000:]}")
    notes = [line for line in done.stderr.splitlines() if "compile" in line]
    print(f"compile={setting}: {' | '.join(notes) or 'no compile notes'}", file=sys.stderr)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "tokens_per_second" in r], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--skip", type=int, default=3, help="First steps left out of the steady state.")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--compiled", choices=("on", "regional"), default="on", help="The setting set against off."
    )
    args = parser.parse_args()
    on = args.compiled
    speed: dict[str, list[float]] = {"off": [], on: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for setting in ("off", on) if r % 2 == 0 else (on, "off"):
                rows, seconds = run(setting, args.steps, Path(tmp) / f"{setting}-{r}")
                steady = [row["tokens_per_second"] for row in rows if row["step"] > args.skip]
                first = [row["tokens_per_second"] for row in rows if row["step"] <= args.skip]
                speed[setting].append(statistics.median(steady))
                print(
                    f"compile {setting:8s} round {r + 1}: steady {statistics.median(steady):7.1f} tokens/s "
                    f"(steps {args.skip + 1}-{args.steps}: {', '.join(f'{x:.0f}' for x in steady)}); "
                    f"first {args.skip} steps {', '.join(f'{x:.1f}' for x in first)} tokens/s; "
                    f"process {seconds:.0f} s"
                )
    print(f"ratio compile {on}/off: {statistics.median(speed[on]) / statistics.median(speed['off']):.2f}")


if __name__ == "__main__":
    main()

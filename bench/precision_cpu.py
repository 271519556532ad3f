"""Which compute precision should `train.precision=auto` pick on this machine?

Trains the demo configuration (SmolLM2-135M, LoRA r=16 on all linear layers, the FAQ data) for the
same steps in fp32 and in bf16, in one process, and prints real (non-padding) tokens/s for each and
the ratio. Usage: .venv/bin/python bench/precision_cpu.py [--steps 10]
"""

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="Optimizer steps per precision (batch 8).")
    args = parser.parse_args()

    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG
    from thrifty.train.run import train

    speed = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            overrides = [
                f"train.precision={precision}",
                f"train.max_steps={args.steps}",
                "data.val_fraction=0.01",
                f"output.dir={tmp}/{precision}",
            ]
            summary = train(load_config(DEMO_CONFIG, overrides), progress=False).summary
            speed[precision] = summary["tokens_per_second"]
            print(
                f"{precision}: {summary['tokens_per_second']:.1f} tokens/s, "
                f"process peak RSS so far {summary['peak_memory_bytes'] / 2**30:.2f} GiB",
                flush=True,
            )
    print(f"ratio bf16/fp32: {speed['bf16'] / speed['fp32']:.2f}")


if __name__ == "__main__":
    main()

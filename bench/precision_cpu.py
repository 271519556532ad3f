"""Which compute precision should `train.precision=auto` pick on this machine?

Trains the demo configuration (SmolLM2-135M, LoRA r=16 on all linear layers, the FAQ data, 50 held-out
questions) for the same steps in each precision, one after another in one process, and prints real
(non-padding) tokens/s, the held-out loss after training, and both against the first precision (fp32):
auto may pick a precision only where it is faster and its held-out loss is within 1% of fp32's.

Usage: .venv/bin/python bench/precision_cpu.py [--steps 30] [--precisions fp32,bf16-base,bf16]
"""

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="Optimizer steps per precision (batch 8).")
    parser.add_argument(
        "--precisions",
        default="fp32,bf16-base,bf16",
        help="train.precision values; the first is the reference.",
    )
    args = parser.parse_args()

    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG
    from thrifty.hardware import cpu_has_bf16
    from thrifty.train.run import train

    print(f"CPU bf16 instructions: {cpu_has_bf16()}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            overrides = [
                f"train.precision={precision}",
                f"train.max_steps={args.steps}",
                f"output.dir={tmp}/{precision}",
            ]
            s = train(load_config(DEMO_CONFIG, overrides), progress=False).summary
            results[precision] = s
            print(
                f"{precision}: {s['tokens_per_second']:.1f} tokens/s, eval loss {s['eval_loss_before']:.4f} -> "
                f"{s['eval_loss_after']:.4f}, process peak RSS so far {s['peak_memory_bytes'] / 2**30:.2f} GiB",
                flush=True,
            )
    ref_name = args.precisions.split(",")[0]
    ref = results[ref_name]
    for name, s in results.items():
        if name != ref_name:
            speed = s["tokens_per_second"] / ref["tokens_per_second"]
            loss = s["eval_loss_after"] / ref["eval_loss_after"] - 1
            print(f"ratio {name}/{ref_name}: {speed:.2f} tokens/s, eval loss {loss:+.2%}")


if __name__ == "__main__":
    main()

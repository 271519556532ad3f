"""Does pruning make fine-tuning cheaper, and at what quality cost? SmolLM2-135M with 0 and N whole blocks
dropped (`thrifty prune --layers N`), each recovered by the demo's LoRA recipe for the same steps on the
FAQ: parameters, held-out loss after pruning and after recovery, training tokens/s, peak memory, and
greedy generation tokens/s in transformers. Levels run one after the other in one process, so peak memory
is in results.json but not tabled: on a CPU it is the process's RSS, which carries the prune step's and
earlier levels' allocations; compare memory across separate processes.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/prune_tradeoff.py [--levels 0,2,4,8] [--steps 10]

Writes WORK/results.json (default runs/bench-prune) and prints a markdown table. Say which CPU.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from thrifty.cli import main as thrifty

DEMO = Path(__file__).resolve().parents[1] / "src" / "thrifty" / "configs" / "smollm2-135m_lora_faq.yaml"
PROMPT = "How do I apply for a building permit?"
NEW_TOKENS = 48


def generation_speed(model_dir: str) -> float:
    """Greedy new tokens per second for one prompt (after one warm-up call), transformers on CPU, fp32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text, return_tensors="pt")
    kwargs = dict(
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
    )
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        started = time.perf_counter()
        model.generate(**ids, **kwargs)
    return NEW_TOKENS / (time.perf_counter() - started)


def level(layers: int, steps: int, work: Path) -> dict:
    from thrifty.config import load_config
    from thrifty.models.registry import resolve_model
    from thrifty.train.run import train

    model = str(resolve_model("smollm2-135m"))
    if layers:
        model = str(work / f"pruned-{layers}")
        argv = ["prune", "smollm2-135m", "--layers", str(layers), "-o", model, "--overwrite", "--no-progress"]
        assert thrifty(argv) == 0, "prune failed"
    overrides = [f"model.name={model}", f"train.max_steps={steps}", f"output.dir={work / f'run-{layers}'}"]
    summary = train(load_config(DEMO, [*overrides, "output.overwrite=true"]), progress=False).summary
    row = {
        "layers_dropped": layers,
        "params": summary["total_params"],
        "eval_loss_pruned": summary["eval_loss_before"],
        "eval_loss_recovered": summary["eval_loss_after"],
        "train_tokens_per_second": summary["tokens_per_second"],
        "peak_memory_bytes": summary["peak_memory_bytes"],
        "generate_tokens_per_second": round(generation_speed(model), 2),
    }
    print(json.dumps(row), file=sys.stderr)
    return row


def table(rows: list[dict]) -> str:
    base = rows[0]
    lines = [
        "| blocks dropped | parameters | loss after pruning | after recovery | train tok/s | × | generate tok/s | × |",
        "|" + "---|" * 8,
    ]
    for r in rows:
        lines.append(
            f"| {r['layers_dropped']} | {r['params'] / 1e6:.1f} M | {r['eval_loss_pruned']:.3f} | "
            f"{r['eval_loss_recovered']:.3f} | {r['train_tokens_per_second']:.1f} | "
            f"{r['train_tokens_per_second'] / base['train_tokens_per_second']:.2f} | "
            f"{r['generate_tokens_per_second']:.1f} | "
            f"{r['generate_tokens_per_second'] / base['generate_tokens_per_second']:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels", default="0,2,4,8", help="Blocks to drop per level; 0 (the baseline) first."
    )
    parser.add_argument(
        "--steps", type=int, default=10, help="LoRA recovery steps per level (the same budget)."
    )
    parser.add_argument(
        "--work", default="runs/bench-prune", help="Folder for the models, runs and results.json."
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows = [level(int(n), args.steps, work) for n in args.levels.split(",")]
    result = {"rows": rows, "steps": args.steps, "load_average": os.getloadavg()}
    (work / "results.json").write_text(json.dumps(result, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

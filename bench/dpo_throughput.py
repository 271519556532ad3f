"""thrifty DPO against TRL's DPOTrainer as its docs show it: same model, pairs, precision, LoRA, steps.

  trl      AutoModelForCausalLM.from_pretrained + DPOTrainer(model, args=DPOConfig(...), train_dataset,
           processing_class=tokenizer, peft_config=LoraConfig(...)) — the TRL quickstart, with bf16 off
           and the same batch, learning rate, seed and max_length as thrifty's run (DPOConfig defaults
           bf16=True even on a CPU and 1e-6 for the learning rate).
  thrifty  `thrifty train --objective dpo` on the same pairs (thrifty.train.run.train).

Each way runs in its own process, so its peak resident memory (ru_maxrss) is its own. Both count the
same thing: real (attention-mask) tokens of the chosen and rejected sequences that went through
`training_step`, over the seconds from the first training step's start to the last one's end (model
loading, the evaluations and saving are left out). The data are the bundled FAQ's questions with their
answer as chosen and another question's answer as rejected (no generation needed for throughput), as
chat messages, so both apply the model's chat template to the same rows.

    .venv/bin/python bench/dpo_throughput.py --steps 12
prints a table and a JSON line; results go to docs/preference.md.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = "smollm2-135m"
FAQ = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}
SETTINGS = {"micro_batch": 4, "lr": 5e-5, "max_length": 256, "beta": 0.1, "seed": 42}


def write_pairs(folder: Path, n: int) -> tuple[Path, Path]:
    """Train and eval pair files from the FAQ: chosen = its answer, rejected = the next question's."""
    from thrifty.data.readers import read_records

    rows = read_records(FAQ, "train")

    def turn(role: str, text: str) -> list[dict[str, str]]:
        return [{"role": role, "content": text}]

    # Conversational, as TRL's own DPO datasets are: both ways apply SmolLM2's chat template to the same rows.
    pairs = [
        {
            "prompt": turn("user", r["instruction"]),
            "chosen": turn("assistant", r["output"]),
            "rejected": turn("assistant", rows[(i + 1) % len(rows)]["output"]),
        }
        for i, r in enumerate(rows[: n + 16])
    ]
    train, held = folder / "train.jsonl", folder / "eval.jsonl"
    train.write_text("".join(json.dumps(p) + "\n" for p in pairs[:n]))
    held.write_text("".join(json.dumps(p) + "\n" for p in pairs[n:]))
    return train, held


class Counter:
    """Wraps DPOTrainer.training_step: real tokens and the training steps' wall time."""

    tokens, first, last = 0, None, None

    @classmethod
    def install(cls):
        from trl import DPOTrainer

        step = DPOTrainer.training_step

        def counted(self, model, inputs, *args, **kwargs):
            cls.first = cls.first or time.perf_counter()
            cls.tokens += int(inputs["attention_mask"].sum())
            out = step(self, model, inputs, *args, **kwargs)
            cls.last = time.perf_counter()
            return out

        DPOTrainer.training_step = counted


def run_trl(train: Path, steps: int, out: str) -> None:
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from thrifty.models.registry import resolve_model

    path = resolve_model(MODEL)
    s = SETTINGS
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(path)
    args = DPOConfig(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=s["micro_batch"],
        learning_rate=s["lr"],
        beta=s["beta"],
        max_length=s["max_length"],
        seed=s["seed"],
        bf16=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1000,
        disable_tqdm=True,
        activation_checkpointing=False,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=load_dataset("json", data_files=str(train), split="train"),
        processing_class=tokenizer,
        peft_config=LoraConfig(task_type="CAUSAL_LM", **LORA),
    )
    trainer.train()


def run_thrifty(train: Path, held: Path, steps: int, out: str) -> None:
    from thrifty.config.load import load_config
    from thrifty.train.run import train as train_run

    s = SETTINGS
    config = load_config(
        None,
        [
            f"model.name={MODEL}",
            f"data.path={train}",
            f"data.eval_path={held}",
            f"data.max_seq_len={s['max_length']}",
            "train.objective=dpo",
            f"train.beta={s['beta']}",
            f"train.max_steps={steps}",
            f"train.micro_batch_size={s['micro_batch']}",
            f"train.learning_rate={s['lr']}",
            f"train.seed={s['seed']}",
            "train.precision=fp32",
            "method.name=lora",
            f"method.rank={LORA['r']}",
            f"method.alpha={LORA['lora_alpha']}",
            f"method.dropout={LORA['lora_dropout']}",
            f"output.dir={out}",
        ],
    )
    train_run(config, progress=False)


def child(way: str, train: Path, held: Path, steps: int) -> None:
    Counter.install()
    with tempfile.TemporaryDirectory() as out:
        if way == "trl":
            run_trl(train, steps, out)
        else:
            run_thrifty(train, held, steps, str(Path(out) / "run"))
    seconds = Counter.last - Counter.first
    result = {
        "way": way,
        "real_tokens": Counter.tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(Counter.tokens / seconds, 1),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
    }
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="Optimizer steps per way.")
    parser.add_argument("--pairs", type=int, default=200, help="Training pairs (the first N FAQ questions).")
    parser.add_argument("--way", choices=("trl", "thrifty"), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        folder = Path(args.data)
        child(args.way, folder / "train.jsonl", folder / "eval.jsonl", args.steps)
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        write_pairs(Path(folder), args.pairs)
        for way in ("trl", "thrifty"):
            command = [sys.executable, __file__, "--way", way, "--data", folder, "--steps", str(args.steps)]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                sys.exit(f"{way} failed:\n{done.stderr[-3000:]}")
            results[way] = json.loads(line[len("RESULT ") :])
    print(f"{'way':<8} {'real tokens':>12} {'seconds':>9} {'tokens/s':>9} {'peak RSS GiB':>13}")
    for r in results.values():
        print(
            f"{r['way']:<8} {r['real_tokens']:>12} {r['seconds']:>9} {r['tokens_per_second']:>9} "
            f"{r['peak_rss_bytes'] / 2**30:>13.2f}"
        )
    t, b = results["thrifty"], results["trl"]
    ratio = {
        "tokens_per_second": round(t["tokens_per_second"] / b["tokens_per_second"], 3),
        "peak_rss": round(t["peak_rss_bytes"] / b["peak_rss_bytes"], 3),
        "same_tokens": t["real_tokens"] == b["real_tokens"],
    }
    print(f"thrifty / trl: tokens/s {ratio['tokens_per_second']}x, peak RSS {ratio['peak_rss']}x")
    print(json.dumps({"steps": args.steps, "results": results, "ratio": ratio}))


if __name__ == "__main__":
    main()

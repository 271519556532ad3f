"""Training throughput: thrifty's defaults against what users write by hand, in one run.

The same LoRA (r=16, alpha=32, all linear layers, dropout 0.05) on SmolLM2-135M over the same first N
training questions of the FAQ (one epoch, 8 examples per optimizer step, lr 1e-3 cosine, seed 42 so
HF's sampler gives all three the same batches, hence the same real tokens), three ways:

  baseline  Trainer + peft as the HF docs write it: tokenizer padding="max_length" (data.max_seq_len).
  trl       TRL SFTTrainer, prompt-completion data, padding_free=True (its flattening collator; BFD
            packing would change the number of optimizer steps), the same batches.
  thrifty   thrifty.train.run.train() with thrifty's defaults, only the shared settings set.

All three learn the answer tokens only (the baseline masks the prompt as the other two do), so the
held-out loss (the same 50 questions, computed here the same way for each) compares what was learned.
Each way runs in its own process (clean peak RSS), in the order a,b,c then c,b,a for further rounds,
so that the load of a shared machine falls on all three alike. Prints per way: real tokens/s, padding
share, peak RSS, achieved model FLOP/s, MFU against the fp32 and bf16 GEMM peaks measured in this run,
held-out loss; then the ratios, exactly, on the last two lines.

Usage: python bench/train_throughput.py [--quick] [--examples N] [--rounds R] [--json FILE]
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
MAX_SEQ_LEN, BATCH, LR, SEED = 256, 8, 1e-3, 42
WAYS = ("baseline", "trl", "thrifty")


def thrifty_config(examples: int, out: str):
    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG

    return load_config(
        DEMO_CONFIG,
        [
            f"data.path={DATA}",
            f"data.max_seq_len={MAX_SEQ_LEN}",
            f"data.max_examples={examples}",
            "train.max_steps=null",
            "train.epochs=1",
            f"train.micro_batch_size={BATCH}",
            f"train.learning_rate={LR}",
            f"train.seed={SEED}",
            f"output.dir={out}",
        ],
    )


def split(config):
    """The canonical train examples (first N) and held-out examples, exactly as thrifty splits them."""
    from thrifty.data import load_examples, split_examples

    examples, _ = load_examples(config.data.path, config.data)
    train, held = split_examples(examples, config.data.val_fraction, config.train.seed)
    return train[: config.data.max_examples], held


def peft_model(path: str, config):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)  # the same adapter initialisation as thrifty's
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    m = config.method
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=m.rank,
        lora_alpha=m.alpha,
        lora_dropout=m.dropout,
        target_modules="all-linear",
    )
    return get_peft_model(base, lora)


def hf_args(out: str, **extra):
    common = dict(
        output_dir=out,
        num_train_epochs=1,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        seed=SEED,
        data_seed=SEED,
        save_strategy="no",
        report_to="none",
        logging_steps=1000,
        disable_tqdm=True,
        use_cpu=True,
    )
    return {**common, **extra}


def run_baseline(path, tokenizer, config, train, out):
    """Trainer + peft with every example padded to max_length by the tokenizer."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, default_data_collator

    rows = []
    for example in train:
        messages = example["messages"]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        enc = tokenizer(
            text, padding="max_length", truncation=True, max_length=MAX_SEQ_LEN, add_special_tokens=False
        )
        labels = [
            tok if i >= n_prompt and mask else -100
            for i, (tok, mask) in enumerate(zip(enc["input_ids"], enc["attention_mask"], strict=True))
        ]
        rows.append({**enc, "labels": labels})
    model = peft_model(path, config)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**hf_args(out)),
        train_dataset=Dataset.from_list(rows),
        data_collator=default_data_collator,
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    real = sum(sum(r["attention_mask"]) for r in rows)
    return model, seconds, real, 1.0 - real / (len(rows) * MAX_SEQ_LEN)


def run_trl(path, tokenizer, config, train, out):
    """TRL's SFTTrainer with its padding-free collator on prompt-completion data."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list(
        [{"prompt": e["messages"][:-1], "completion": e["messages"][-1:]} for e in train]
    )
    model = peft_model(path, config)
    # TRL turns gradient checkpointing on by default (memory for time): off, for its best speed.
    args = SFTConfig(**hf_args(out), padding_free=True, max_length=None, gradient_checkpointing=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    real = sum(len(r["input_ids"]) for r in trainer.train_dataset)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return model, seconds, real, 0.0


def run_thrifty(path, tokenizer, config, train, out):
    from thrifty.train.run import train as thrifty_train

    result = thrifty_train(config, progress=False)
    s = result.summary
    return result.model, s["wall_seconds"], s["train_tokens"], 0.0, s


def eval_loss(model, tokenizer, config, held) -> float:
    """Token-weighted loss on the answers of the held-out questions, one example at a time (no padding)."""
    import torch

    from thrifty.data.tokenize import IGNORE_INDEX, encode_all

    rows, _ = encode_all(held, tokenizer, MAX_SEQ_LEN, False, None)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            labels = torch.tensor([row["labels"]])
            n = int((labels[:, 1:] != IGNORE_INDEX).sum())
            loss = model(input_ids=torch.tensor([row["input_ids"]]), labels=labels, use_cache=False).loss
            total, count = total + loss.item() * n, count + n
    return total / count


def worker(way: str, examples: int, out_file: str) -> None:
    """One way, in this process: train, then measure; writes a JSON line to `out_file`."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.plan.compute import train_flops
    from thrifty.train.hardware import peak_memory_bytes, reset_peak_memory
    from thrifty.train.run import count_parameters

    with tempfile.TemporaryDirectory() as tmp:
        config = thrifty_config(examples, f"{tmp}/run")
        path = resolve_model(config.model.name)
        tokenizer = load_tokenizer(path, config.model)
        train, held = split(config)
        reset_peak_memory()
        run = {"baseline": run_baseline, "trl": run_trl, "thrifty": run_thrifty}[way]
        model, seconds, real, padding, *rest = run(path, tokenizer, config, train, f"{tmp}/hf")
        peak = peak_memory_bytes()
        loss = eval_loss(model, tokenizer, config, held)
        trainable, total = count_parameters(model)
        lengths = [len(r["input_ids"]) for r in train_rows(tokenizer, config, train)]
        flops = train_flops(
            model.config, total, trainable, "lora", real, int(statistics.mean(lengths)), False
        )
    record = {
        "way": way,
        "seconds": seconds,
        "real_tokens": real,
        "tokens_per_second": real / seconds,
        "padding_share": padding,
        "peak_rss_bytes": peak,
        "model_flops_per_second": flops / seconds,
        "eval_loss": loss,
    }
    if rest:
        s = rest[0]
        record.update({k: s[k] for k in ("data_time_share", "packing", "precision") if k in s})
    with open(out_file, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def train_rows(tokenizer, config, train):
    from thrifty.data.tokenize import encode_all

    return encode_all(train, tokenizer, MAX_SEQ_LEN, False, None)[0]


def gemm_peaks() -> dict[str, float]:
    """fp32 and bf16 GEMM peaks measured now (thrifty's planner measurement, with a fresh cache)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["THRIFTY_HOME"] = home
        try:
            from thrifty.plan.compute import cpu_peak_flops

            return {p: cpu_peak_flops(p) for p in ("fp32", "bf16")}
        finally:
            os.environ.pop("THRIFTY_HOME")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="24 examples (3 steps), one round: < 5 min idle."
    )
    parser.add_argument(
        "--examples", type=int, default=None, help="Training examples (default 120; quick 24)."
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="Rounds of all three ways (default 2; quick 1)."
    )
    parser.add_argument("--json", default=None, help="Also write every measurement to this JSON file.")
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    examples = args.examples or (24 if args.quick else 120)
    if args.worker:
        worker(args.worker, examples, args.out)
        return
    rounds = args.rounds or (1 if args.quick else 2)
    records = collect(examples, rounds)
    peaks = gemm_peaks()
    report(records, peaks, examples, rounds)
    if args.json:
        Path(args.json).write_text(json.dumps({"records": records, "gemm_peaks": peaks}, indent=2))


def collect(examples: int, rounds: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/records.jsonl"
        for r in range(rounds):
            for way in WAYS if r % 2 == 0 else tuple(reversed(WAYS)):
                command = [
                    sys.executable,
                    __file__,
                    "--worker",
                    way,
                    "--examples",
                    str(examples),
                    "--out",
                    out,
                ]
                print(f"round {r + 1}/{rounds}: {way} ...", file=sys.stderr, flush=True)
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"{way} failed:\n{done.stderr[-3000:]}")
        return [json.loads(line) for line in Path(out).read_text().splitlines()]


def report(records: list[dict], peaks: dict[str, float], examples: int, rounds: int) -> None:
    print(
        f"SmolLM2-135M LoRA r16 all-linear, {examples} FAQ examples x 1 epoch, batch {BATCH}, {rounds} round(s); "
        f"GEMM peaks: fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s"
    )
    speed = {}
    for way in WAYS:
        mine = [r for r in records if r["way"] == way]
        tps = statistics.median(r["tokens_per_second"] for r in mine)
        flops = statistics.median(r["model_flops_per_second"] for r in mine)
        speed[way] = tps
        extra = f", data time {mine[0]['data_time_share']:.1%}" if "data_time_share" in mine[0] else ""
        each = ", ".join(f"{r['tokens_per_second']:.1f}" for r in mine)
        print(
            f"{way:9s} {tps:8.1f} real tokens/s ({each}), "
            f"padding {mine[0]['padding_share']:.0%}, peak RSS {max(r['peak_rss_bytes'] for r in mine) / 2**30:.2f} GiB, "
            f"{flops / 1e9:.2f} GFLOP/s, MFU fp32 {flops / peaks['fp32']:.1%} / bf16 {flops / peaks['bf16']:.1%}, "
            f"eval loss {statistics.mean(r['eval_loss'] for r in mine):.4f}, "
            f"{mine[0]['real_tokens']:,} real tokens{extra}"
        )
    base_loss = statistics.mean(r["eval_loss"] for r in records if r["way"] == "baseline")
    ours_loss = statistics.mean(r["eval_loss"] for r in records if r["way"] == "thrifty")
    print(f"eval loss thrifty vs baseline: {ours_loss / base_loss - 1:+.2%}")
    print(f"ratio thrifty/baseline: {speed['thrifty'] / speed['baseline']:.2f}")
    print(f"ratio thrifty/trl: {speed['thrifty'] / speed['trl']:.2f}")


if __name__ == "__main__":
    main()

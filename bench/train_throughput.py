"""Training throughput: thrifty's defaults against what users write by hand, in one run.

The same LoRA (r=16, alpha=32, all linear layers, dropout as the demo config sets it: 0 since
2026-12-03, 0.05 before) on SmolLM2-135M over the same first N training questions of the FAQ (one
epoch, 8 examples per optimizer step, lr 1e-3 cosine, seed 42 so
HF's sampler gives all three the same batches, hence the same real tokens), three ways:

  baseline  Trainer + peft as the HF docs write it: tokenizer padding="max_length" (data.max_seq_len).
  trl       TRL SFTTrainer, prompt-completion data, padding_free=True (its flattening collator; BFD
            packing would change the number of optimizer steps), the same batches.
  thrifty   thrifty.train.run.train() with thrifty's defaults, only the shared settings set.

All three learn the answer tokens only (the baseline masks the prompt as the other two do), so the
held-out loss (the same 50 questions, computed here the same way for each) compares what was learned.
Each way runs in its own process (a clean memory peak), in the order a,b,c then c,b,a for further
rounds, so that the load of a shared machine falls on all three alike.

All three run on one device (--device: auto = CUDA when torch sees a GPU) in one precision, the one
thrifty's `train.precision: auto` picks there for LoRA (bf16 on CUDA; on CPU bf16-base where the CPU
has bf16 instructions, else fp32), set explicitly for all three (TRL's SFTConfig otherwise defaults to
bf16 even on a CPU). bf16-base means for the two others what it means for thrifty: the base loaded in
bf16, bf16 autocast, fp32 adapters (peft's defaults do the rest). --precision forces one. With --model-config NAME the model is a
planner-catalog architecture (e.g. qwen2.5-0.5b) built from its config with seeded random weights (no
download), saved once with the bundled SmolLM2 tokenizer, and loaded by all three from that folder.

Prints per way: real tokens/s, the padding share of the batches the training loop was fed (counted in
each way's collator), the micro-batch it ran with, peak memory (CUDA max_memory_allocated on CUDA,
peak RSS on CPU), achieved model FLOP/s, MFU against the fp32 and bf16 GEMM peaks measured on the same
device in this run, held-out loss; thrifty's own notes (what it chose) on stderr; the MFU of thrifty's
precision against the device's highest measured GEMM peak (`MFU best-precision`); with --big-vocab the
peak RSS of a 262k-vocabulary architecture (gemma-3-1b, random weights, LoRA, 1,024 tokens) with and
without the chunked loss (bench/plan_accuracy.py's worker); then the ratios, exactly, on the last two
lines.

Usage: python bench/train_throughput.py [--quick] [--examples N] [--rounds R] [--json FILE]
                                        [--model-config NAME] [--device auto|cpu|cuda]
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
DEFAULT_MODEL = "smollm2-135m"  # bundled pretrained model; also the tokenizer of --model-config builds
# Square GEMM sizes for the CUDA peak: large enough to fill an H100/H200 (8192^3 bf16 ~ 2 ms there).
CUDA_GEMM_SIZES = (2048, 4096, 8192)


def thrifty_config(examples: int, out: str, model: str, precision: str):
    from thrifty.config import load_config
    from thrifty.demo import DEMO_CONFIG

    return load_config(
        DEMO_CONFIG,
        [
            f"model.name={model}",
            f"data.path={DATA}",
            f"data.max_seq_len={MAX_SEQ_LEN}",
            f"data.max_examples={examples}",
            "train.max_steps=null",
            "train.epochs=1",
            f"train.micro_batch_size={BATCH}",
            f"train.learning_rate={LR}",
            f"train.seed={SEED}",
            f"train.precision={precision}",
            f"output.dir={out}",
        ],
    )


def split(config):
    """The canonical train examples (first N) and held-out examples, exactly as thrifty splits them."""
    from thrifty.data import load_examples, split_examples

    examples, _ = load_examples(config.data.path, config.data)
    train, held = split_examples(examples, config.data.val_fraction, config.train.seed)
    return train[: config.data.max_examples], held


def build_random_model(name: str, dest: Path) -> str:
    """The catalog architecture `name` with seeded random weights and the bundled SmolLM2 tokenizer,
    saved once so that all three ways load the same weights through from_pretrained (no download)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thrifty.models.registry import resolve_model
    from thrifty.plan.architecture import resolve_config
    from thrifty.plan.catalog import find_model

    entry = find_model(name)  # a catalog name only: a hub id here would mean a download
    config = resolve_config(entry["key"])
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    # The catalog's vocabulary is kept (the head's FLOPs and memory are the real model's) unless it is
    # smaller than SmolLM2's 49,152 ids, which must all have an embedding row.
    config.vocab_size = max(config.vocab_size, len(tokenizer))
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"built {entry['key']} ({config.model_type}, {params / 1e6:.0f}M parameters) in {dest}",
        file=sys.stderr,
    )
    return str(dest)


def peft_model(path: str, config):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)  # the same adapter initialisation as thrifty's
    dtype = torch.bfloat16 if os.environ.get("BENCH_PRECISION") == "bf16-base" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    m = config.method
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=m.rank,
        lora_alpha=m.alpha,
        lora_dropout=m.dropout,
        target_modules="all-linear",
    )
    return get_peft_model(base, lora)


def hf_args(out: str, device: str, precision: str, **extra):
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
        use_cpu=device == "cpu",
        # Set for both Trainers: TRL's SFTConfig defaults bf16=True, on CPUs too.
        bf16=precision in ("bf16", "bf16-base"),
        fp16=precision == "fp16",
    )
    return {**common, **extra}


class FedCounter:
    """What the training loop was fed, counted inside each way's collator while training (not while
    evaluating): real tokens, positions the model computes (input_ids.numel()), examples, micro-batches."""

    def __init__(self):
        self.active = False
        self.real = self.computed = self.examples = self.batches = 0

    def wrap(self, collate):
        def counted(features):
            batch = collate(features)
            if self.active:
                self.add(features, batch)
            return batch

        return counted

    def add(self, features, batch) -> None:
        self.batches += 1
        self.examples += len(features)
        # A feature's real tokens: its attention mask where it has one (the baseline's are pre-padded).
        self.real += sum(sum(f.get("attention_mask") or [1] * len(f["input_ids"])) for f in features)
        self.computed += int(batch["input_ids"].numel())

    def summary(self) -> dict:
        return {
            "real_tokens": self.real,
            "padding_share": 1.0 - self.real / max(self.computed, 1),
            "micro_batches": self.batches,
            "examples_per_micro_batch": self.examples / max(self.batches, 1),
        }


def training_only(counter: FedCounter):
    """A callback that counts from the start of training to its end (not the evaluations around it)."""
    from transformers import TrainerCallback

    class Toggle(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            counter.active = True

        def on_train_end(self, args, state, control, **kwargs):
            counter.active = False

    return Toggle()


def run_baseline(path, tokenizer, config, train, out, device, precision, counter):
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
        args=TrainingArguments(**hf_args(out, device, precision)),
        train_dataset=Dataset.from_list(rows),
        data_collator=counter.wrap(default_data_collator),
        callbacks=[training_only(counter)],
    )
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start, {"micro_batch_size": trainer.args.per_device_train_batch_size}


def run_trl(path, tokenizer, config, train, out, device, precision, counter):
    """TRL's SFTTrainer with its padding-free collator on prompt-completion data."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list(
        [{"prompt": e["messages"][:-1], "completion": e["messages"][-1:]} for e in train]
    )
    model = peft_model(path, config)
    # TRL turns gradient checkpointing on by default (memory for time): off, for its best speed.
    args = SFTConfig(
        **hf_args(out, device, precision), padding_free=True, max_length=None, gradient_checkpointing=False
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.data_collator = counter.wrap(trainer.data_collator)  # the loader is built in train()
    trainer.add_callback(training_only(counter))
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start, {"micro_batch_size": trainer.args.per_device_train_batch_size}


def run_thrifty(path, tokenizer, config, train, out, device, precision, counter):
    import thrifty.train.speed as speed
    from thrifty.train.run import train as thrifty_train

    # Count inside thrifty's collator (TimedCollator.collate), so its data-time share still reports.
    make_collator = speed.make_collator

    def counted_collator(*args, **kwargs):
        timed = make_collator(*args, **kwargs)
        timed.collate = counter.wrap(timed.collate)
        return timed

    speed.make_collator = counted_collator
    try:
        result = thrifty_train(config, progress=False, callbacks=[training_only(counter)])
    finally:
        speed.make_collator = make_collator
    s = result.summary
    keep = ("micro_batch_size", "gradient_accumulation_steps", "data_time_share", "packing", "precision")
    return result.model, s["wall_seconds"], {k: s[k] for k in keep if k in s}


def eval_loss(model, tokenizer, config, held) -> float:
    """Token-weighted loss on the answers of the held-out questions, one example at a time (no padding)."""
    import torch

    from thrifty.data.tokenize import IGNORE_INDEX, encode_all

    rows, _ = encode_all(held, tokenizer, MAX_SEQ_LEN, False, None)
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            labels = torch.tensor([row["labels"]], device=device)
            n = int((labels[:, 1:] != IGNORE_INDEX).sum())
            ids = torch.tensor([row["input_ids"]], device=device)
            loss = model(input_ids=ids, labels=labels, use_cache=False).loss
            total, count = total + loss.item() * n, count + n
    return total / count


def worker(way: str, examples: int, model: str, device: str, out_file: str) -> None:
    """One way, in this process: train, then measure; writes a JSON line to `out_file`."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.hardware import device_name, peak_memory_bytes, reset_peak_memory, resolve_precision
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.plan.compute import train_flops
    from thrifty.train.save import count_parameters

    if device_name() != device:
        sys.exit(f"{way}: asked for {device}, torch sees {device_name()}")
    # thrifty's choice on this device for LoRA (or --precision), used by all three
    precision = os.environ.get("BENCH_PRECISION") or resolve_precision("auto", "lora")
    counter = FedCounter()
    with tempfile.TemporaryDirectory() as tmp:
        config = thrifty_config(examples, f"{tmp}/run", model, precision)
        path = resolve_model(config.model.name)
        tokenizer = load_tokenizer(path, config.model)
        train, held = split(config)
        reset_peak_memory()
        run = {"baseline": run_baseline, "trl": run_trl, "thrifty": run_thrifty}[way]
        trained, seconds, extra = run(path, tokenizer, config, train, f"{tmp}/hf", device, precision, counter)
        peak = peak_memory_bytes()
        loss = eval_loss(trained, tokenizer, config, held)
        trainable, total = count_parameters(trained)
        fed = counter.summary()
        lengths = [len(r["input_ids"]) for r in train_rows(tokenizer, config, train)]
        flops = train_flops(
            trained.config, total, trainable, "lora", fed["real_tokens"], int(statistics.mean(lengths)), False
        )
    record = {
        "way": way,
        "device": device,
        "precision": precision,
        "seconds": seconds,
        **fed,
        "tokens_per_second": fed["real_tokens"] / seconds,
        "peak_memory_bytes": peak,
        "peak_memory_kind": "CUDA max_memory_allocated" if device == "cuda" else "peak RSS",
        "model_flops_per_second": flops / seconds,
        "eval_loss": loss,
        **extra,
    }
    with open(out_file, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def train_rows(tokenizer, config, train):
    from thrifty.data.tokenize import encode_all

    return encode_all(train, tokenizer, MAX_SEQ_LEN, False, None)[0]


def gemm_peaks(device: str) -> dict[str, float]:
    """fp32 and bf16 GEMM peaks on `device`, measured now: on CPU thrifty's planner measurement with a
    fresh cache, on CUDA the same timing (synchronized) on larger sizes."""
    import torch

    from thrifty.plan.compute import measure_gemm_peak

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device == "cuda":
        return {p: measure_gemm_peak(d, "cuda", CUDA_GEMM_SIZES, reps=20) for p, d in dtypes.items()}
    with tempfile.TemporaryDirectory() as home:
        os.environ["THRIFTY_HOME"] = home
        try:
            from thrifty.plan.compute import cpu_peak_flops

            return {p: cpu_peak_flops(p) for p in dtypes}
        finally:
            os.environ.pop("THRIFTY_HOME")


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA GPU on this machine")
    return requested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="24 examples (3 steps), one round: 2.4 min on the idle 2-core CPU (12 min at load 2-4), docs/performance.md.",
    )
    parser.add_argument(
        "--examples", type=int, default=None, help="Training examples (default 120; quick 24)."
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="Rounds of all three ways (default 2; quick 1)."
    )
    parser.add_argument(
        "--model-config",
        default=None,
        metavar="NAME",
        help="A planner-catalog architecture (e.g. qwen2.5-0.5b) built with seeded random weights "
        "instead of the bundled pretrained SmolLM2-135M.",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when torch sees a GPU."
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "bf16-base", "fp16"),
        help="Force this precision on all three (default: thrifty's auto choice for LoRA here).",
    )
    parser.add_argument(
        "--big-vocab",
        action="store_true",
        help="Also measure peak RSS of gemma-3-1b (262k vocabulary, random weights) LoRA at 1,024 tokens "
        "with and without the chunked loss (~5 min on 2 cores).",
    )
    parser.add_argument("--json", default=None, help="Also write every measurement to this JSON file.")
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    examples = args.examples or (24 if args.quick else 120)
    if args.worker:
        worker(args.worker, examples, args.model, args.device, args.out)
        return
    device = resolve_device(args.device)
    rounds = args.rounds or (1 if args.quick else 2)
    if args.precision:
        os.environ["BENCH_PRECISION"] = args.precision  # the workers read it
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if args.model_config:
            model = build_random_model(args.model_config, Path(tmp) / "model")
        records, logs = collect(examples, rounds, model, device)
    peaks = gemm_peaks(device)
    label = f"{args.model_config} (random weights)" if args.model_config else "SmolLM2-135M"
    big = big_vocab_memory() if args.big_vocab and device == "cpu" else None
    report(records, peaks, examples, rounds, label, big)
    if args.json:
        payload = {
            "records": records,
            "gemm_peaks": peaks,
            "device": device,
            "stderr": logs,
            "big_vocab": big,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))


def worker_env(device: str) -> dict[str, str]:
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # every way, thrifty's device detection included, sees no GPU
    return env


def collect(examples: int, rounds: int, model: str, device: str) -> tuple[list[dict], list[dict]]:
    """Records of every way and round, and each worker's stderr (thrifty's notes: what it chose)."""
    logs = []
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/records.jsonl"
        for r in range(rounds):
            for way in WAYS if r % 2 == 0 else tuple(reversed(WAYS)):
                command = [sys.executable, __file__, "--worker", way, "--examples", str(examples)]
                command += ["--model", model, "--device", device, "--out", out]
                print(f"round {r + 1}/{rounds}: {way} ...", file=sys.stderr, flush=True)
                done = subprocess.run(command, capture_output=True, text=True, env=worker_env(device))
                if done.returncode != 0:
                    sys.exit(f"{way} failed:\n{done.stderr[-3000:]}")
                logs.append({"way": way, "round": r + 1, "stderr": done.stderr[-6000:]})
                if way == "thrifty":
                    for line in done.stderr.splitlines()[-20:]:
                        print(f"  thrifty: {line}", file=sys.stderr)
        return [json.loads(line) for line in Path(out).read_text().splitlines()], logs


def big_vocab_memory() -> dict[str, int]:
    """Peak RSS growth (bytes) of two LoRA steps on gemma-3-1b at 1,024 tokens, chunked and plain loss."""
    sys.path.insert(0, str(Path(__file__).parent))
    from plan_accuracy import measure

    print("big vocabulary: gemma-3-1b chunked and plain ...", file=sys.stderr, flush=True)
    return {
        kind: measure("catalog:gemma-3-1b", "lora", 1, 1024, False, kind == "chunked")
        for kind in ("chunked", "plain")
    }


def report(
    records: list[dict], peaks: dict[str, float], examples: int, rounds: int, label: str, big=None
) -> None:
    first = records[0]
    print(
        f"{label} LoRA r16 all-linear, {examples} FAQ examples x 1 epoch, batch {BATCH}, {rounds} round(s), "
        f"{first['device']} {first['precision']}; GEMM peaks on {first['device']}: "
        f"fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s"
    )
    speed = {}
    for way in WAYS:
        mine = [r for r in records if r["way"] == way]
        tps = statistics.median(r["tokens_per_second"] for r in mine)
        flops = statistics.median(r["model_flops_per_second"] for r in mine)
        speed[way] = tps
        one = mine[0]
        extra = f", data time {one['data_time_share']:.1%}" if "data_time_share" in one else ""
        accum = one.get("gradient_accumulation_steps", 1)
        each = ", ".join(f"{r['tokens_per_second']:.1f}" for r in mine)
        peak = max(r["peak_memory_bytes"] for r in mine) / 2**30
        memory = "peak CUDA" if one["device"] == "cuda" else "peak RSS"
        print(
            f"{way:9s} {tps:8.1f} real tokens/s ({each}), padding {one['padding_share']:.0%}, "
            f"micro-batch {one['micro_batch_size']}x{accum}, {memory} {peak:.2f} GiB, "
            f"{flops / 1e9:.2f} GFLOP/s, MFU fp32 {flops / peaks['fp32']:.1%} / bf16 {flops / peaks['bf16']:.1%}, "
            f"eval loss {statistics.mean(r['eval_loss'] for r in mine):.4f}, "
            f"{one['real_tokens']:,} real tokens{extra}"
        )
    base_loss = statistics.mean(r["eval_loss"] for r in records if r["way"] == "baseline")
    ours_loss = statistics.mean(r["eval_loss"] for r in records if r["way"] == "thrifty")
    best = max(peaks.values())
    ours = statistics.median(r["model_flops_per_second"] for r in records if r["way"] == "thrifty")
    best_name = max(peaks, key=peaks.get)
    print(
        f"MFU best-precision: thrifty {ours / best:.1%} of the highest measured GEMM peak "
        f"({best_name} {best / 1e9:.1f} GFLOP/s), training in {first['precision']}"
    )
    if big:
        print(
            f"big-vocab peak RSS (gemma-3-1b 262k vocab, LoRA b1 s1024): chunked {big['chunked'] / 2**30:.2f} GiB, "
            f"plain {big['plain'] / 2**30:.2f} GiB ({big['chunked'] / big['plain']:.2f}x)"
        )
    print(f"eval loss thrifty vs baseline: {ours_loss / base_loss - 1:+.2%}")
    print(f"ratio thrifty/baseline: {speed['thrifty'] / speed['baseline']:.2f}")
    print(f"ratio thrifty/trl: {speed['thrifty'] / speed['trl']:.2f}")


if __name__ == "__main__":
    main()

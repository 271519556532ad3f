"""What the checks of bench/gpu_check.py run: `thrifty train` and `thrifty plan --json` in subprocesses,
the models and data they train on, and the figures they read back from each run folder.

A train run goes through `gpu_check.py --child ... -- train ARGS`, which is thrifty's own
`thrifty.cli.main(ARGS)` with two optional test hooks: a CUDA memory cap for this process (so the
micro-batch search meets a real out-of-memory) and Liger switched off (the run to compare it with). It
also notes on stderr when Liger's kernels are applied and what each bitsandbytes config asks for, so a
check can say what really ran.
"""

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LIGER_MARK = "gpu_check: liger kernels applied"


class Skip(Exception):
    """The check cannot run here; the message says why."""


class Failed(Exception):
    """The check ran and failed; the message is the last error line. `figures` keeps what it measured."""

    def __init__(self, message: str, figures: dict[str, Any] | None = None):
        super().__init__(message)
        self.figures = figures


@dataclass(frozen=True)
class Sizes:
    steps: int  # optimizer steps per run
    micro_batch: int
    seq_len: int  # data.max_seq_len; every synthetic example is longer, so cut to it
    eval_examples: int
    precision: str  # of every run but lora_bf16 (bf16 everywhere)
    timeout_s: float  # per command
    oom_seq_len: int = 0  # micro_batch_oom: long sequences ...
    oom_effective: int = 0  # ... an effective batch whose larger splits cannot fit ...
    oom_cap_gib: float = 0.0  # ... under this cap on the process's CUDA memory


# micro_batch_oom: the plan puts SmolLM2 LoRA at ~4.5 GiB per 1,024-token sequence, so under a 12 GiB
# cap micro-batch 2 fits and 4 runs out of memory; either stays true if the plan is off by 2x.
CUDA_SIZES = Sizes(15, 8, 512, 8, "bf16", 240, oom_seq_len=1024, oom_effective=64, oom_cap_gib=12.0)
CPU_SIZES = Sizes(2, 2, 64, 4, "fp32", 150)
CATALOG_MODEL = "qwen2.5-0.5b"  # the catalog architecture of the 0.5-1.5 B row, random weights


@dataclass
class Run:
    label: str
    run_dir: Path
    summary: dict[str, Any]
    log: str
    seconds: float
    model: str  # the model kind: base | catalog
    overrides: tuple[str, ...]


@dataclass
class Context:
    device: str
    work: Path  # temporary: models, data, run folders
    out: Path  # the report folder: logs/ and runs/*.summary.json go there
    budget_s: float
    start: float
    sizes: Sizes
    env: dict[str, Any]  # gpu_check.environment(): versions, the device's name
    memo: dict[tuple, Any] = field(default_factory=dict)
    check: str = "check"  # the check running now: names its runs' folders and logs
    runs_started: int = 0

    @classmethod
    def create(cls, device, work, out, budget_s, start, env) -> "Context":
        sizes = CUDA_SIZES if device == "cuda" else CPU_SIZES
        return cls(device, work, out, budget_s, start, sizes, env)

    def seconds_left(self) -> float:
        return self.budget_s - (time.monotonic() - self.start)

    # -------------------------------------------------------------------------------- inputs

    def once(self, key: tuple, make):
        """make() the first time `key` is asked for; later the same value, or the same failure again."""
        if key not in self.memo:
            try:
                self.memo[key] = make()
            except (Failed, Skip) as exc:
                self.memo[key] = exc
            except Exception as exc:
                self.memo[key] = Failed(f"{key[0]}: {type(exc).__name__}: {exc}"[:300])
        value = self.memo[key]
        if isinstance(value, Exception):
            raise value
        return value

    def model(self, kind: str) -> str:
        """base: SmolLM2-135M on CUDA (bundled real weights), a tiny Llama on CPU; catalog: the catalog
        architecture with seeded random weights, full size on CUDA, shrunk on CPU."""
        if kind == "base" and self.device == "cuda":
            return "smollm2-135m"
        return self.once(("model", kind), lambda: build_model(kind, self.device, self.work / f"model-{kind}"))

    def data(self, kind: str = "short") -> tuple[str, str]:
        s = self.sizes
        seq, examples = (
            (s.oom_seq_len, s.oom_effective * 2) if kind == "long" else (s.seq_len, s.micro_batch * s.steps)
        )

        def make():
            # Words run to ~1.3 tokens each with SmolLM2 (more with the tiny tokenizer): seq words overflow seq.
            train = write_data(self.work / f"{kind}-train.jsonl", examples, seq, seed=1)
            held = write_data(self.work / f"{kind}-eval.jsonl", s.eval_examples, seq, seed=2)
            return str(train), str(held)

        return self.once(("data", kind), make)

    # ------------------------------------------------------------------------------ commands

    def command(self, name: str, argv: list[str], timeout: float | None = None) -> tuple[int, str, float]:
        """Run argv in its own process group with cwd in the work folder (no runs/ there: the plan's MFU
        is the uncalibrated default in every run); (exit code, output, seconds). The output is kept in
        OUT/logs/NAME.log."""
        limit = max(1.0, min(timeout or self.sizes.timeout_s, self.seconds_left()))
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
        )
        env.setdefault("HF_HUB_OFFLINE", "1")
        if self.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""  # thrifty's own device choice sees no GPU either
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        start = time.monotonic()
        with log.open("w") as f:
            proc = subprocess.Popen(
                argv, stdout=f, stderr=subprocess.STDOUT, cwd=self.work, env=env, start_new_session=True
            )
            code = None
            try:
                code = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                pass
            finally:  # timed out, or this script is being stopped: the whole group goes (compile workers too)
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        text = log.read_text(errors="replace")
        if code is None:
            raise Failed(f"{name}: timed out after {limit:.0f} s (last line: {last_error_line(text)})")
        return code, text, time.monotonic() - start

    def train(
        self, overrides: tuple[str, ...], model: str = "base", hooks: tuple[str, ...] = (), data="short"
    ) -> Run:
        """One `thrifty train` run (memoised: checks that compare against the same run share it)."""
        key = ("train", model, data, overrides, hooks)

        def make() -> Run:
            self.runs_started += 1
            return self._train(f"{self.runs_started:02d}-{self.check}", *key[1:])

        return self.once(key, make)

    def _train(self, label: str, model: str, data: str, overrides, hooks) -> Run:
        s = self.sizes
        train_file, eval_file = self.data(data)
        run_dir = self.work / "train-runs" / label  # not runs/: the plan would calibrate on these
        argv = [sys.executable, str(REPO / "bench" / "gpu_check.py"), "--child", *hooks, "--", "train"]
        argv += ["--model", self.model(model), "--data", train_file, "--eval-data", eval_file]
        argv += ["--output", str(run_dir), "--no-progress", "--json"]
        # Overrides, not flags such as --max-steps: thrifty applies flags after overrides, and a check's
        # own overrides (appended below) must win over these.
        argv += [
            f"train.max_steps={s.steps}",
            f"data.max_seq_len={s.seq_len}",
            f"train.micro_batch_size={s.micro_batch}",
        ]
        argv += ["train.gradient_accumulation_steps=1", "train.auto_micro_batch=off", "train.compile=off"]
        argv += ["train.warmup_ratio=0", "train.logging_steps=1", f"train.precision={s.precision}"]
        argv += list(overrides)  # last: they win
        code, log, seconds = self.command(label, argv)
        if code != 0:
            raise Failed(f"exit {code}: {last_error_line(log)}")
        summary = json.loads((run_dir / "summary.json").read_text())
        saved = self.out / "runs"
        saved.mkdir(parents=True, exist_ok=True)
        (saved / f"{label}.summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (saved / f"{label}.argv.txt").write_text(" ".join(argv[2:]) + "\n")
        return Run(label, run_dir, summary, log, seconds, model, overrides)

    def plans(self, runs: list[Run]) -> list[dict[str, Any] | Failed]:
        """`thrifty plan --json` for the configuration each run trained, as a user would type it; all
        in one child process (the imports cost ~8 s on a 2-core CPU), each through thrifty's CLI."""
        requests = self.work / "plans.json"
        answers = self.work / "plans-answers.json"
        requests.write_text(json.dumps([plan_argv(run, self) for run in runs]))
        argv = [sys.executable, str(REPO / "bench" / "gpu_check.py"), "--child", "--plans"]
        code, log, _ = self.command(f"plans-{self.check}", [*argv, str(requests), str(answers)])
        if code != 0:
            raise Failed(f"thrifty plan exit {code}: {last_error_line(log)}")
        out: list[dict[str, Any] | Failed] = []
        for answer in json.loads(answers.read_text()):
            if answer["code"] == 0:
                out.append(json.loads(answer["stdout"]))
            else:
                out.append(Failed(f"thrifty plan exit {answer['code']}: {last_error_line(answer['stderr'])}"))
        return out


def plan_argv(run: Run, ctx: Context) -> list[str]:
    s = run.summary
    optimizer = {"adamw_bnb_8bit": "adamw8bit", "paged_adamw_8bit": "paged_adamw8bit", "sgd": "sgd"}
    argv = ["plan", "--model", s["model_path"], "--method", s["method"], "--json"]
    argv += ["--seq-len", str(ctx.sizes.seq_len), "--batch-size", str(s["micro_batch_size"])]
    argv += ["--grad-accum", str(s["gradient_accumulation_steps"]), "--tokens", str(s["predicted_tokens"])]
    argv += ["--precision", s["precision"], "--attention", "sdpa", "--runs", str(ctx.work / "no-runs")]
    argv += ["--optimizer", optimizer.get(option(run.overrides, "train.optimizer"), "adamw")]
    if option(run.overrides, "train.gradient_checkpointing") == "true":
        argv.append("--gradient-checkpointing")
    return [*argv, "--cpu"] if ctx.device == "cpu" else argv


def option(overrides: tuple[str, ...], key: str) -> str | None:
    values = [o.partition("=")[2] for o in overrides if o.startswith(key + "=")]
    return values[-1] if values else None


def last_error_line(text: str) -> str:
    """The line that says what went wrong: the last exception or `error:` line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if line.startswith(("error:", "warning: torch.compile failed")) or (
            head.endswith(("Error", "Exception")) and " " not in head
        ):
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


# ------------------------------------------------------------------------------------- models


def build_model(kind: str, device: str, dest: Path) -> str:
    """A folder `thrifty train` can load: the catalog architecture with random weights (cuda: as in
    bench/train_throughput.py, with SmolLM2's tokenizer), or tiny models on a CPU (hidden 64, so qlora
    quantizes every linear; the tokenizer from tests/conftest.py)."""
    if device == "cuda":
        from train_throughput import build_random_model

        return build_random_model(CATALOG_MODEL, dest)
    from tests.conftest import build_tokenizer, save_tiny_model

    if kind == "base":
        return str(save_tiny_model(dest, hidden=64))
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from thrifty.plan.architecture import resolve_config

    tokenizer = build_tokenizer()
    # The catalog entry's model_type, biases, rope and norms, at tiny sizes (layer_types follows them).
    values = resolve_config(CATALOG_MODEL).to_dict()
    for key in ("layer_types", "max_window_layers", "head_dim", "architectures", "transformers_version"):
        values.pop(key, None)
    values.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
    values.update(num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=512)
    values.update(tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id)
    values.update(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return str(dest)


# ------------------------------------------------------------------------------------ data


WORDS = (
    "permit building municipality application demolition notice house roof window wall garden "
    "committee property extension weeks statutory processing small change attefall plan drawing "
    "neighbour fee decision appeal inspection certificate start final control"
).split()


def write_data(path: Path, examples: int, words: int, seed: int) -> Path:
    """Seeded synthetic alpaca records whose answers run past data.max_seq_len (each cut to it)."""
    rng = random.Random(seed)
    with path.open("w") as f:
        for _ in range(examples):
            question = " ".join(rng.choices(WORDS, k=4)).capitalize() + "?"
            answer = " ".join(rng.choices(WORDS, k=words)).capitalize() + "."
            f.write(json.dumps({"instruction": question, "input": "", "output": answer}) + "\n")
    return path


# ------------------------------------------------------------------------------------ figures


def ratio(measured, predicted) -> float | None:
    if not measured or not predicted:
        return None
    return round(measured / predicted, 3)


def run_figures(run: Run, device: str) -> dict[str, Any]:
    """What the run measured beside what its own plan predicted. Measured peak: CUDA max allocated; on
    a CPU the RSS growth over the run's start, which is what the plan predicts there."""
    s = run.summary
    peak = s.get("peak_memory_growth_bytes") if device == "cpu" else s.get("peak_memory_bytes")
    return {
        "tokens_per_second": s.get("tokens_per_second"),
        "steady_tokens_per_second": steady_tokens_per_second(run.run_dir),
        "peak_memory_bytes": peak,
        "predicted_peak_memory_bytes": s.get("predicted_peak_memory_bytes"),
        "peak_ratio": ratio(peak, s.get("predicted_peak_memory_bytes")),
        "train_seconds": s.get("wall_seconds"),
        "predicted_seconds": s.get("predicted_seconds"),
        "time_ratio": ratio(s.get("wall_seconds"), s.get("predicted_seconds")),
        "steps": s.get("steps"),
        "train_tokens": s.get("train_tokens"),
        "micro_batch_size": s.get("micro_batch_size"),
        "precision": s.get("precision"),
        "trainable_params": s.get("trainable_params"),
        "eval_loss_after": s.get("eval_loss_after"),
        "liger_applied": LIGER_MARK in run.log,
        "run": run.label,
    }


def steady_tokens_per_second(run_dir: Path) -> float | None:
    """Median tokens/s over the second half of the logged steps: past compilation and warm-up."""
    path = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    speeds = [r["tokens_per_second"] for r in rows if r.get("tokens_per_second")]
    return round(statistics.median(speeds[len(speeds) // 2 :]), 1) if speeds else None


# -------------------------------------------------------------------------------- child hooks


def child(argv: list[str]) -> int:
    """`gpu_check.py --child [--memory-gib G] [--no-liger] -- train ARGS`: thrifty's main(ARGS);
    `gpu_check.py --child --plans IN.json OUT.json`: main(ARGS) for each ARGS in IN, answers to OUT."""
    if argv[0] == "--plans":
        return plan_many(Path(argv[1]), Path(argv[2]))
    split = argv.index("--")
    hooks, rest = argv[:split], argv[split + 1 :]
    if "--memory-gib" in hooks:
        import torch

        cap = float(hooks[hooks.index("--memory-gib") + 1]) * 2**30
        torch.cuda.set_per_process_memory_fraction(
            min(1.0, cap / torch.cuda.get_device_properties(0).total_memory)
        )
    if "--no-liger" in hooks:
        import thrifty.train.speed as speed

        speed.use_liger = lambda device: False
    trace_liger()
    trace_quantization()
    from thrifty.cli import main

    return main(rest)


def trace_liger() -> None:
    """Note on stderr each time transformers applies Liger's kernels to a model."""
    import importlib.util

    if importlib.util.find_spec("liger_kernel") is None:
        return
    import transformers.integrations.liger as liger

    original = liger.apply_liger_kernel

    def traced(*args, **kwargs):
        print(LIGER_MARK, file=sys.stderr, flush=True)
        return original(*args, **kwargs)

    liger.apply_liger_kernel = traced


QUANT_MARK = "gpu_check: bitsandbytes"


def trace_quantization() -> None:
    """Note on stderr what each BitsAndBytesConfig thrifty builds asks for (4-bit, type, double quant)."""
    from transformers import BitsAndBytesConfig

    original = BitsAndBytesConfig.__init__

    def traced(self, *args, **kwargs):
        original(self, *args, **kwargs)
        print(
            f"{QUANT_MARK} load_in_4bit={self.load_in_4bit} load_in_8bit={self.load_in_8bit} "
            f"quant_type={self.bnb_4bit_quant_type} double_quant={self.bnb_4bit_use_double_quant}",
            file=sys.stderr,
            flush=True,
        )

    BitsAndBytesConfig.__init__ = traced


def plan_many(requests: Path, answers: Path) -> int:
    import contextlib
    import io

    from thrifty.cli import main

    out = []
    for argv in json.loads(requests.read_text()):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
        sys.stderr.write(stderr.getvalue())
        out.append({"argv": argv, "code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()})
    answers.write_text(json.dumps(out))
    return 0

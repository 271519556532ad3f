"""thrifty's Python API: the functions the CLI verbs call, returning results instead of printing them.

    import thrifty
    plan = thrifty.plan(model="qwen2.5-7b", method="qlora", gpu="rtx4090")
    result = thrifty.train("my.yaml", overrides={"train.max_steps": 50})

Every bad input raises `thrifty.UserError` with the same one-line message the CLI prints (the CLI exits 2
with it). A training run stopped by a signal or a preemption notice raises `thrifty.Preempted` once its
checkpoint is written (the CLI exits 75): call `thrifty.train(..., resume="auto")` to continue it.

Nothing heavy loads on `import thrifty`: torch, transformers and the rest load inside each function.
Unlike the CLI, the functions leave the process's logging and warnings as the caller set them, and
show no progress bar unless `progress=True`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.errors import Preempted, UserError

if TYPE_CHECKING:
    from thrifty.config.schema import RunConfig
    from thrifty.prune.run import PruneResult
    from thrifty.train.run import RunResult

__all__ = [
    "Comparison",
    "Evaluation",
    "Export",
    "Plan",
    "Preempted",
    "SweepResult",
    "UserError",
    "compare",
    "eval",
    "export",
    "plan",
    "prune",
    "sweep",
    "train",
]

ConfigSource = str | Path | Mapping[str, Any] | None
Overrides = Mapping[str, Any] | list[str] | None


@dataclass(frozen=True)
class Plan:
    """What `thrifty plan --json` prints: parameters, peak memory, FLOPs, and an option per GPU and
    provider (time, $/h, $) with the cheapest marked."""

    details: dict[str, Any]

    @property
    def options(self) -> list[dict[str, Any]]:
        return self.details.get("options", [])

    @property
    def cheapest(self) -> dict[str, Any] | None:
        """The cheapest option that fits (gpu, provider, count, hours, usd), or None when none fits."""
        return next((o for o in self.options if o.get("cheapest")), None)

    def __getitem__(self, key: str) -> Any:
        return self.details[key]


@dataclass(frozen=True)
class Evaluation:
    """RUN/eval.json's content (perplexity, task metrics, base vs fine-tuned, examples)."""

    run_dir: Path
    report: dict[str, Any]


@dataclass(frozen=True)
class Export:
    """What an export wrote (`targets`), the commands to use it next (`ollama create ...`)."""

    run_dir: Path
    written: dict[str, Any]

    @property
    def targets(self) -> list[str]:
        return [str(p) for p in self.written.get("targets", [])]

    @property
    def commands(self) -> list[str]:
        return list(self.written.get("commands", []))


@dataclass(frozen=True)
class Comparison:
    """The comparison's report: the table, the quality-vs-cost frontier and the recommendation."""

    output: Path
    report: dict[str, Any]

    @property
    def recommendation(self) -> str:
        return self.report["recommendation"]


@dataclass(frozen=True)
class SweepResult:
    """The sweep folder and its report: best trial(s), every trial's row, parameter importance."""

    sweep_dir: Path
    summary: dict[str, Any] = field(repr=False)

    @property
    def best(self) -> list[dict[str, Any]]:
        """The best trial (one objective) or the Pareto set: trial number, params, values."""
        return self.summary["best"]


def plan(
    model: str,
    method: str = "lora",
    gpu: str | None = None,
    *,
    objective: str = "sft",
    tokens: int | str = "10M",
    seq_len: int = 512,
    batch_size: int = 4,
    grad_accum: int = 1,
    precision: str = "bf16",
    gpus: int = 1,
    strategy: str = "ddp",
    offload: str = "none",
    cpu: bool = False,
    rank: int = 16,
    alpha: float = 32.0,
    targets: str | list[str] = "all-linear",
    virtual_tokens: int = 20,
    trainable_layers: int = 2,
    gradient_checkpointing: bool = False,
    chunked_loss: bool = True,
    optimizer: str = "adamw",
    attention: str = "flash",
    precompute_ref_logps: bool = False,
    num_generations: int = 4,
    max_completion_length: int = 64,
    revision: str | None = None,
    trust_remote_code: bool = False,
    runs: str = "runs",
    prices: str | None = None,
    own: str | None = None,
    roi: tuple[float, float] | None = None,
) -> Plan:
    """Predict trainable parameters, peak memory, FLOPs, time and dollars of fine-tuning `model` with
    `method`, for every catalog GPU and provider, or fitted to `gpu` (settings that fit it). The
    keywords are `thrifty plan`'s flags (`tokens`: training tokens in all, e.g. "20M"; `cpu`: plan for
    this machine's CPU; `own`: break-even of buying that GPU; `roi`: (improvement %, monthly value $))."""
    from thrifty.plan.run import plan_model

    method_config = _method(method, rank, alpha, targets, virtual_tokens, trainable_layers)
    fields = dict(
        model=model,
        method=method_config,
        seq_len=seq_len,
        micro_batch=batch_size,
        grad_accum=grad_accum,
        tokens=tokens if isinstance(tokens, str) else int(tokens),
        precision=precision,
        gradient_checkpointing=gradient_checkpointing,
        chunked_loss=chunked_loss,
        optimizer=optimizer,
        gpu=gpu,
        gpus=gpus,
        strategy=strategy,
        offload=offload,
        device="cpu" if cpu else "cuda",
        attention=attention,
        runs_dir=runs,
        price_file=prices,
        revision=revision,
        trust_remote_code=trust_remote_code,
        objective=objective,
        precompute_ref_logps=precompute_ref_logps,
        num_generations=num_generations,
        max_completion_length=max_completion_length,
    )
    return Plan(plan_model(fields, own, roi))


def _method(method: str, rank: int, alpha: float, targets, virtual_tokens: int, trainable_layers: int):
    from pydantic import ValidationError

    from thrifty.config.load import describe_validation_error
    from thrifty.config.schema import MethodConfig

    try:
        return MethodConfig(
            name=method,
            rank=rank,
            alpha=alpha,
            target_modules=targets,
            num_virtual_tokens=virtual_tokens,
            trainable_layers=trainable_layers,
        )
    except ValidationError as exc:
        raise UserError(f"method: {describe_validation_error(exc)}") from None


def load_run_config(config: "ConfigSource | RunConfig" = None, overrides: Overrides = None) -> "RunConfig":
    """A validated run config from a YAML path, a mapping of sections, or a RunConfig, plus overrides
    (`{"train.max_steps": 50}` or `["train.max_steps=50"]`)."""
    from thrifty.config.load import load_config, set_dotted, validate
    from thrifty.config.schema import RunConfig

    if config is None or isinstance(config, str | Path):
        return load_config(config, overrides)
    raw = config.model_dump(mode="json") if isinstance(config, RunConfig) else _plain(config)
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            set_dotted(raw, str(key), value)
    elif overrides:
        from thrifty.config.load import parse_override

        for item in overrides:
            set_dotted(raw, *parse_override(item))
    return validate(raw)


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}


def train(
    config: "ConfigSource | RunConfig" = None,
    overrides: Overrides = None,
    *,
    resume: str | None = None,
    resume_force: bool = False,
    overwrite: bool = False,
    plan_only: bool = False,
    progress: bool = False,
) -> "RunResult":
    """Fine-tune as `thrifty train CONFIG key=value ...` does; returns the run (`run_dir`, `summary`: the
    summary.json figures, and the trained `model` and `tokenizer` when it trained in this process).

    `config`: a YAML path, a mapping of sections ({"model": {...}, "train": {...}}) or a RunConfig.
    `overrides`: dotted fields, {"train.max_steps": 50, "train.report_to": ["tensorboard"]}.
    `resume`: "auto" or a RUN/checkpoints/step-N folder. `overwrite`: replace a thrifty run in output.dir.
    `plan_only`: only plan (summary holds "plan"). Raises UserError, or Preempted after a stop."""
    from thrifty.train.preflight import preflight
    from thrifty.train.run import train as train_run

    if overwrite:
        overrides = _with(overrides, "output.overwrite", True)
    run_config = load_run_config(config, overrides)
    preflight(run_config)  # before the heavy imports, as the CLI does
    return train_run(
        run_config, progress=progress, plan_only=plan_only, resume=resume, resume_force=resume_force
    )


def _with(overrides: Overrides, key: str, value: Any) -> Overrides:
    if isinstance(overrides, Mapping):
        return {**overrides, key: value}
    return [*(overrides or []), f"{key}={str(value).lower() if isinstance(value, bool) else value}"]


def eval(  # noqa: A001 - the verb's name, as `thrifty eval`; the builtin stays reachable as builtins.eval
    run: str | Path,
    *,
    data: str | None = None,
    metrics: list[str] | str | None = None,
    labels: list[str] | None = None,
    compare_base: bool = False,
    few_shot: int | None = None,
    few_shot_pick: str = "retrieved",
    max_examples: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 128,
    examples: int = 3,
    lm_eval: list[str] | None = None,
    lm_eval_include: str | None = None,
    lm_eval_limit: int | None = None,
    force: bool = False,
    trust_remote_code: bool = False,
    base: str | None = None,
    device: str = "auto",
    progress: bool = False,
) -> Evaluation:
    """Evaluate a finished run as `thrifty eval RUN` does (perplexity, task metrics on greedy answers,
    tokens/s, peak memory; base vs fine-tuned with `compare_base`); writes RUN/eval.json and eval.md."""
    from thrifty.eval.metrics import parse_metrics
    from thrifty.eval.runner import EvalOptions, evaluate_run

    names = ",".join(metrics) if isinstance(metrics, list) else metrics
    options = EvalOptions(
        data=data,
        # None keeps "the defaults" apart from metrics the user named (text data refuses those).
        metrics=parse_metrics(names, labels) if names or labels else None,
        labels=labels,
        compare_base=compare_base,
        max_examples=max_examples,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        shown_examples=examples,
        lm_eval_tasks=lm_eval,
        lm_eval_include=lm_eval_include,
        lm_eval_limit=lm_eval_limit,
        force=force,
        trust_remote_code=trust_remote_code,
        base=base,
        device=device,
        progress=progress,
        few_shot=few_shot,
        few_shot_pick=few_shot_pick,
    )
    return Evaluation(Path(run), evaluate_run(run, options))


def export(
    run: str | Path,
    *,
    output: str | None = None,
    merge: bool = False,
    dtype: str = "fp32",
    gguf: list[str] | str | None = None,
    gguf_adapter: bool = False,
    ollama: bool = False,
    system: str | None = None,
    int8: bool = False,
    force: bool = False,
    trust_remote_code: bool = False,
    base: str | None = None,
    device: str = "auto",
) -> Export:
    """Ship a finished run as `thrifty export RUN` does: merged safetensors (`merge`), GGUF files
    (`gguf=["q8_0"]`), a GGUF adapter, an Ollama Modelfile, int8 weights; under RUN/export or `output`."""
    from thrifty.export.gguf import parse_types
    from thrifty.export.runner import ExportOptions, export_run

    types_ = parse_types(",".join(gguf) if isinstance(gguf, list) else gguf) if gguf else None
    options = ExportOptions(
        output=output,
        merge=merge,
        dtype=dtype,
        gguf=types_,
        gguf_adapter=gguf_adapter,
        ollama=ollama,
        system=system,
        int8=int8,
        force=force,
        trust_remote_code=trust_remote_code,
        base=base,
        device=device,
    )
    return Export(Path(run), export_run(run, options))


def compare(
    config: "ConfigSource | RunConfig" = None,
    overrides: Overrides = None,
    *,
    strategies: list[str] | str | None = None,
    budget_steps: int | None = None,
    budget_minutes: float | None = None,
    budget_dollars: float | None = None,
    gpu: str | None = None,
    output: str | Path = "runs/compare",
    same_lr: bool = False,
    few_shot: int | None = None,
    few_shot_pick: str = "retrieved",
    prune_layers: int | None = None,
    prune_heads: float | None = None,
    prune_mlp: float | None = None,
    prune_criterion: str | None = None,
    progress: bool = False,
) -> Comparison:
    """Train each strategy (methods, objectives, stages such as "sft+dpo" or "prune+lora", or "few-shot")
    on the same data, split, seed and budget, as `thrifty compare` does; writes OUTPUT/report.md and
    report.html. prune_* shape the prune stage (`thrifty compare --prune-*`)."""
    from thrifty.compare.prune import prune_spec
    from thrifty.compare.runner import Budget, compare_and_report, few_shot_spec, parse_strategies
    from thrifty.train.preflight import preflight

    chosen = parse_strategies(",".join(strategies) if isinstance(strategies, list) else strategies)
    budget = Budget(budget_steps, budget_minutes, budget_dollars, gpu)
    budget.check()
    shots = few_shot_spec(few_shot, few_shot_pick, chosen)
    prune = prune_spec(prune_layers, prune_heads, prune_mlp, prune_criterion, chosen)
    run_config = load_run_config(config, overrides)
    preflight(run_config)
    out = Path(output)
    report = compare_and_report(
        run_config, chosen, budget, out, same_lr, progress=progress, few_shot=shots, prune=prune
    )
    return Comparison(out, report)


def sweep(
    path: str | Path,
    *,
    output: str | None = None,
    progress: bool = False,
    **settings: Any,
) -> SweepResult:
    """Run a sweep file (a run config plus a `sweep:` section) as `thrifty sweep FILE` does, resuming an
    interrupted sweep in the same folder. `settings`: sweep-section fields that win over the file, as
    the CLI's flags (trials=8, sampler="tpe", workers=2, budget_minutes=30, ...). Raises Preempted after
    a stop (call again to resume)."""
    from thrifty.sweep.run_file import run_sweep_file

    sweep_dir, summary = run_sweep_file(Path(path), settings, output, progress=progress, table=False)
    return SweepResult(sweep_dir, summary)


def prune(
    model: str,
    output: str | Path,
    *,
    layers: int | None = None,
    heads: float | None = None,
    mlp: float | None = None,
    criterion: str = "taylor",
    head_groups: str = "within",
    calibration: str | None = None,
    calibration_rows: int = 128,
    overwrite: bool = False,
    progress: bool = False,
) -> "PruneResult":
    """A smaller model, as `thrifty prune` makes it: drop `layers` whole blocks, then the `heads` and `mlp`
    shares of every block's attention heads and MLP channels (ranked by `criterion` on `calibration`,
    default the bundled FAQ); an ordinary Hugging Face folder at `output`. Returns shapes and parameter
    counts before and after (also OUTPUT/prune.json)."""
    from thrifty.prune.run import DEFAULT_CALIBRATION, PruneOptions
    from thrifty.prune.run import prune as run_prune

    options = PruneOptions(
        model=model,
        output=str(output),
        layers=layers,
        heads=heads,
        mlp=mlp,
        criterion=criterion,
        head_groups=head_groups,
        calibration=calibration or DEFAULT_CALIBRATION,
        calibration_rows=calibration_rows,
        overwrite=overwrite,
        progress=progress,
    )
    return run_prune(options)

"""`thrifty compare`: the same data, split, seed and budget for each strategy, one after another.

Each strategy's result is a JSON file under OUT/results/; a rerun skips strategies whose result is
there and whose resolved config has not changed (peft's method_comparison works the same way).
"""

import hashlib
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.compare.fewshot import FewShotSpec
from thrifty.compare.prune import PruneSpec
from thrifty.compare.strategies import Strategy
from thrifty.compare.strategies import parse_strategies as parse
from thrifty.config.schema import RunConfig
from thrifty.errors import UserError
from thrifty.io import write_json_atomic

DEFAULT_STRATEGIES = ("scratch", "full", "lora", "qlora")  # the seeds' comparison
# LoRA's best learning rate is ~10x full fine-tuning's (REFERENCE.md, LoRA findings): methods that
# train base weights get the configured rate / 10 unless --same-lr.
WHOLE_MODEL_LR_DIVISOR = 10


@dataclass
class Budget:
    steps: int | None = None
    minutes: float | None = None
    dollars: float | None = None
    gpu: str | None = None

    def check(self) -> None:
        for name in ("steps", "minutes", "dollars"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"--budget-{name} must be positive (got {value})")

    def train_fields(self, usd_per_hour: float | None) -> dict[str, Any]:
        """The `train` section fields that enforce this budget."""
        out: dict[str, Any] = {}
        if self.steps:
            out["max_steps"] = self.steps
        minutes = self.minutes
        if self.dollars:
            minutes = min(minutes or float("inf"), self.dollars / usd_per_hour * 60)
        if minutes:
            out["max_minutes"] = minutes
        return out


def parse_strategies(text: str | None) -> list[Strategy]:
    return parse(text, DEFAULT_STRATEGIES)


def strategy_config(
    base: RunConfig,
    strategy: Strategy,
    budget: Budget,
    out: Path,
    same_lr: bool,
    usd_per_hour: float | None,
    stage: int = 0,
    model: str | None = None,
) -> RunConfig:
    """The run config of one stage: the stage's method/objective over the base config, the budget, its
    own run folder, and (after the first stage) the previous stage's model as the starting point.
    Objective fields the stage's objective does not read go back to their defaults, so a config
    written for dpo (train.beta) also serves the sft stage of sft+dpo."""
    from thrifty.config.load import validate
    from thrifty.config.objectives import READERS
    from thrifty.methods.table import method_info

    raw = base.model_dump(mode="json")
    for section, fields in strategy.stages[stage].updates().items():
        raw[section].update(fields)
    objective = raw["train"]["objective"]
    for name, readers in READERS.items():
        if objective not in readers:
            raw["train"].pop(name, None)
    if not method_info(raw["method"]["name"]).adapter and not same_lr:
        raw["train"]["learning_rate"] = base.train.learning_rate / WHOLE_MODEL_LR_DIVISOR
    if model is not None:
        raw["model"]["name"] = model
    folder = out / "runs" / strategy.slug
    if len(strategy.stages) > 1:
        folder = folder / f"stage-{stage + 1}-{strategy.name.split('+')[stage]}"
    raw["output"] = {"dir": str(folder), "overwrite": True}
    raw["train"].update(budget.train_fields(usd_per_hour))
    return validate(raw, source=f"strategy {strategy.name}")


def config_hash(config: RunConfig) -> str:
    return hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
        :16
    ]


def check_fits_model(configs: dict[str, RunConfig]) -> None:
    """Before any training: the data reads (as pairs or as examples), and every strategy
    can be built on this model (e.g. its target modules exist)."""
    from thrifty.compare.stages import is_pairs_file
    from thrifty.data import load_examples
    from thrifty.data.preference import load_pairs
    from thrifty.models.registry import resolve_model
    from thrifty.plan.architecture import count_params, resolve_config

    for strategy, config in configs.items():
        data = config.data
        for path in filter(None, (data.path, data.eval_path)):
            (load_pairs if is_pairs_file(path, data) else load_examples)(path, data)
        arch = resolve_config(resolve_model(config.model.name))
        try:
            count_params(arch, config.method)
        except UserError as exc:
            raise UserError(f"strategy {strategy}: {exc}") from None


StageConfig = Callable[[Strategy, int, str | None], RunConfig]  # (strategy, stage, start model) -> config


def run_strategy(
    strategy: Strategy,
    make_config: StageConfig,
    results: Path,
    progress: bool,
    rank_on_pairs: RunConfig | None,
    few_shot: FewShotSpec | None = None,
    prune: PruneSpec | None = None,
) -> dict[str, Any]:
    """Train one strategy's stages in turn, or evaluate a baseline (few-shot), or reuse its result, and
    return its result record; with `rank_on_pairs` (the base config) its final model is scored on the
    held-out preference pairs."""
    from thrifty.compare.fewshot import run_few_shot

    name, path = strategy.name, results / f"{strategy.slug}.json"
    first = make_config(strategy, 0, None)
    few_shot, prune = few_shot or FewShotSpec(), prune or PruneSpec()
    digest = few_shot.digest(first) if strategy.baseline else config_hash(first)
    if strategy.stages[0].prune:  # the pruned model, hence every stage, depends on the shares
        digest = f"{digest}-{prune.digest()}"
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("config_hash") == digest and old.get("status") == "ok":
            print(f"compare: {name}: result unchanged, skipped", file=sys.stderr)
            return old
    print(f"compare: {'evaluating' if strategy.baseline else 'training'} {name} ...", file=sys.stderr)
    record: dict[str, Any] = {"strategy": name, "config_hash": digest, "run_dir": first.output.dir}
    try:
        if strategy.baseline:
            record.update(
                status="ok", baseline=strategy.baseline, run_dir=None, **run_few_shot(first, few_shot)
            )
        else:
            record.update(_train_stages(strategy, make_config, first, progress, rank_on_pairs, prune))
    except UserError:
        raise  # the user's input is wrong for every strategy after this one too: say it once and stop
    except Exception as exc:  # one strategy's crash is reported; the others still run
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}".splitlines()[0],
            traceback=traceback.format_exc(limit=3),
        )
    write_json_atomic(path, record)
    return record


def _train_stages(
    strategy: Strategy,
    make_config: StageConfig,
    first: RunConfig,
    progress: bool,
    rank_on_pairs,
    prune: PruneSpec,
) -> dict[str, Any]:
    """Each stage trained from the previous stage's model; the record fields of the finished strategy."""
    from thrifty.compare.prune import run_prune_stage
    from thrifty.compare.stages import combined, hand_over, preference_quality
    from thrifty.train.run import train

    stages, model, curve = [], None, []
    for i in range(len(strategy.stages)):
        config = first if i == 0 else make_config(strategy, i, model)
        if strategy.stages[i].prune:
            model, stage = run_prune_stage(config, prune, progress)
            stages.append(stage)
            continue
        summary = train(config, progress=progress).summary
        run_dir = Path(config.output.dir)
        offset = curve[-1][0] if curve else 0  # the stages' steps follow each other on one axis
        curve += [[step + offset, loss] for step, loss in _loss_curve(run_dir)]
        stages.append({"run_dir": str(run_dir), "method": config.method.name, "summary": summary})
        if i + 1 < len(strategy.stages):
            model = str(hand_over(run_dir))
    record: dict[str, Any] = {
        "status": "ok",
        "summary": combined(stages),
        "loss_curve": curve,
        "method": stages[-1]["method"],
        "run_dir": stages[-1]["run_dir"],
    }
    if len(stages) > 1:
        record["stages"] = stages
    if rank_on_pairs is not None:
        record["preference"] = preference_quality(rank_on_pairs, run_dir, len(stages) > 1)
    return record


def _loss_curve(run_dir: Path) -> list[list[float]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [[m["step"], m["loss"]] for m in map(json.loads, lines) if "loss" in m]


def compare(
    base: RunConfig,
    strategies: list[Strategy],
    budget: Budget,
    out: Path,
    same_lr: bool = False,
    progress: bool = True,
    few_shot: FewShotSpec | None = None,
    prune: PruneSpec | None = None,
) -> list[dict[str, Any]]:
    from thrifty.compare.dollars import gpu_price
    from thrifty.compare.stages import chosen_as_sft, is_pairs_file

    if not (budget.steps or budget.minutes or budget.dollars):
        raise UserError(
            "a budget is needed: --budget-steps N, --budget-minutes M or --budget-dollars D (> 0)"
        )
    price = gpu_price(budget.gpu) if budget.gpu else None
    if budget.dollars and not price:
        raise UserError("--budget-dollars needs --gpu to turn dollars into training time")
    from thrifty.outputs import check_output, claim_output
    from thrifty.train.folder import data_paths

    check_output(out, "compare")  # before any work: never into a folder thrifty did not write
    pairs = is_pairs_file(base.data.path, base.data)

    def make_config(strategy: Strategy, stage: int, model: str | None) -> RunConfig:
        config = strategy_config(base, strategy, budget, out, same_lr, price, stage, model)
        if pairs and config.train.objective == "sft":  # sft learns the pairs' chosen answers
            files = {"path": str(out / "data" / "chosen.jsonl")}
            if base.data.eval_path:
                files["eval_path"] = str(out / "data" / "chosen-eval.jsonl")
            config = config.model_copy(update={"data": config.data.model_copy(update=files)})
        return config

    configs = {s.name: strategy_config(base, s, budget, out, same_lr, price) for s in strategies}
    check_fits_model(configs)
    few_shot = few_shot or FewShotSpec()
    if any(s.baseline for s in strategies):
        from thrifty.compare.fewshot import check_few_shot

        check_few_shot(base, pairs, few_shot)
    prune = prune or PruneSpec()
    if any(s.stages[0].prune for s in strategies):
        from thrifty.compare.prune import check_prune

        check_prune(base, prune)
    claim_output(out, "compare", protect=data_paths(base))
    if pairs:
        chosen_as_sft(base.data.path, base.data, out / "data" / "chosen.jsonl")
        if base.data.eval_path:
            chosen_as_sft(base.data.eval_path, base.data, out / "data" / "chosen-eval.jsonl")
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    ranked = base if pairs else None  # on pairs every strategy is scored on the held-out preferences
    return [run_strategy(s, make_config, results, progress, ranked, few_shot, prune) for s in strategies]


def few_shot_spec(k: int | None, pick: str, strategies: list[Strategy]) -> FewShotSpec:
    """--few-shot K only means something for the few-shot strategy: given without it, it is a mistake."""
    from thrifty.compare.fewshot import DEFAULT_K
    from thrifty.eval.fewshot.build import check_k

    check_k(k, pick)
    if k is not None and not any(s.baseline == "few-shot" for s in strategies):
        raise UserError(
            f"--few-shot {k} sets the shots of the few-shot strategy; add few-shot to --strategies"
        )
    return FewShotSpec(k or DEFAULT_K, pick)


def compare_and_report(
    config: RunConfig,
    strategies: list[Strategy],
    budget: Budget,
    out: Path,
    same_lr: bool = False,
    progress: bool = True,
    few_shot: FewShotSpec | None = None,
    prune: PruneSpec | None = None,
) -> dict[str, Any]:
    """What `thrifty compare` does once its input checks out: every strategy trained (or skipped when
    unchanged), then OUT/report.md and report.html; returns the report (table, Pareto set, recommendation)."""
    from thrifty.compare.report import write_report

    results = compare(
        config, strategies, budget, out, same_lr, progress=progress, few_shot=few_shot, prune=prune
    )
    return write_report(results, out, budget.gpu)

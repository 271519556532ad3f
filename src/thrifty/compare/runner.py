"""`thrifty compare`: the same data, split, seed and budget for each strategy, one after another.

Each strategy's result is a JSON file under OUT/results/; a rerun skips strategies whose result is
there and whose resolved config has not changed (peft's method_comparison works the same way).
"""

import hashlib
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def parse_strategies(text: str | None) -> list[str]:
    from thrifty.methods.table import method_names

    names = [s.strip() for s in (text or ",".join(DEFAULT_STRATEGIES)).split(",") if s.strip()]
    unknown = [s for s in names if s not in method_names()]
    if unknown or not names:
        raise UserError(
            f"unknown strategy {', '.join(unknown) or '(none)'}; known: {', '.join(method_names())}"
        )
    return list(dict.fromkeys(names))


def strategy_config(
    base: RunConfig, strategy: str, budget: Budget, out: Path, same_lr: bool, usd_per_hour: float | None
) -> RunConfig:
    from thrifty.config.load import validate

    raw = base.model_dump(mode="json")
    raw["method"]["name"] = strategy
    from thrifty.methods.table import method_info

    if not method_info(strategy).adapter and not same_lr:
        raw["train"]["learning_rate"] = base.train.learning_rate / WHOLE_MODEL_LR_DIVISOR
    raw["output"] = {"dir": str(out / "runs" / strategy), "overwrite": True}
    raw["train"].update(budget.train_fields(usd_per_hour))
    return validate(raw, source=f"strategy {strategy}")


def config_hash(config: RunConfig) -> str:
    return hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
        :16
    ]


def check_fits_model(configs: dict[str, RunConfig]) -> None:
    """Before any training: the data reads, and every strategy can be built on this model (e.g. its
    target modules exist)."""
    from thrifty.data import load_examples
    from thrifty.models.registry import resolve_model

    data = next(iter(configs.values())).data  # the same for every strategy
    for path in filter(None, (data.path, data.eval_path)):
        load_examples(path, data)
    from thrifty.plan.architecture import count_params, resolve_config

    for strategy, config in configs.items():
        arch = resolve_config(resolve_model(config.model.name))
        try:
            count_params(arch, config.method)
        except UserError as exc:
            raise UserError(f"strategy {strategy}: {exc}") from None


def run_strategy(config: RunConfig, strategy: str, results: Path, progress: bool) -> dict[str, Any]:
    """Train one strategy (or reuse its result) and return its result record."""
    from thrifty.train.run import train

    path = results / f"{strategy}.json"
    digest = config_hash(config)
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("config_hash") == digest and old.get("status") == "ok":
            print(f"compare: {strategy}: result unchanged, skipped", file=sys.stderr)
            return old
    print(f"compare: training {strategy} ...", file=sys.stderr)
    record: dict[str, Any] = {"strategy": strategy, "config_hash": digest, "run_dir": config.output.dir}
    try:
        summary = train(config, progress=progress).summary
        record.update(status="ok", summary=summary, loss_curve=_loss_curve(Path(config.output.dir)))
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


def _loss_curve(run_dir: Path) -> list[list[float]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [[m["step"], m["loss"]] for m in map(json.loads, lines) if "loss" in m]


def compare(
    base: RunConfig,
    strategies: list[str],
    budget: Budget,
    out: Path,
    same_lr: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    from thrifty.compare.dollars import gpu_price

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
    configs = {s: strategy_config(base, s, budget, out, same_lr, price) for s in strategies}
    check_fits_model(configs)
    claim_output(out, "compare", protect=data_paths(base))
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    return [run_strategy(configs[s], s, results, progress) for s in strategies]

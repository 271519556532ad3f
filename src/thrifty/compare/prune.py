"""The `prune` stage of `thrifty compare` (`prune+lora`): prune the base model at the given shares with
`thrifty prune` (calibrated on the run's own training data), then train the next stage on the pruned
model under the same budget as every other strategy.

Its quality is the last stage's held-out loss; "eval loss before" of that stage is the pruned model
untrained, so the report shows what pruning cost and what the budget won back. The prune stage's own
time counts in wall seconds; it trains nothing, so it adds no training dollars (one calibration pass of
a few hundred rows, seconds next to the budget).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError

CALIBRATION_ROWS = 128  # what `thrifty prune` calibrates on by default


@dataclass(frozen=True)
class PruneSpec:
    layers: int | None = None
    heads: float | None = None
    mlp: float | None = 0.25  # when nothing is given: a quarter of the MLP channels (docs/prune.md)
    criterion: str = "taylor"

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def options(self, config: RunConfig, output: Path, progress: bool = False):
        from thrifty.prune.run import PruneOptions

        return PruneOptions(
            model=config.model.name,
            output=str(output),
            layers=self.layers,
            heads=self.heads,
            mlp=self.mlp,
            criterion=self.criterion,
            calibration=config.data.path,
            calibration_rows=CALIBRATION_ROWS,
            max_seq_len=config.data.max_seq_len,
            overwrite=True,
            trust_remote_code=config.model.trust_remote_code,
            progress=progress,
        )


def check_prune(base: RunConfig, spec: PruneSpec) -> None:
    """Before any training: the shares are valid for this model (no weights loaded)."""
    from thrifty.models.load import load_model_config
    from thrifty.models.registry import resolve_model
    from thrifty.prune.run import check_options, check_shape

    options = spec.options(base, Path("unused"))
    try:
        check_options(options)
        arch = load_model_config(
            resolve_model(base.model.name), trust_remote_code=base.model.trust_remote_code
        )
        check_shape(arch, options)
    except UserError as exc:  # the prune verb's flags are --prune-* here
        message = str(exc)
        for flag in ("--layers", "--heads", "--mlp", "--criterion"):
            message = message.replace(flag + " ", "--prune-" + flag[2:] + " ")
        raise UserError(f"strategy prune: {message}") from None


def run_prune_stage(config: RunConfig, spec: PruneSpec, progress: bool) -> tuple[str, dict[str, Any]]:
    """Prune into the stage's folder: (the pruned model's path, the stage record)."""
    from thrifty.prune.run import prune

    folder = Path(config.output.dir)
    result = prune(spec.options(config, folder / "model", progress))
    summary = {
        "wall_seconds": result.seconds,
        "train_seconds": 0.0,
        "train_tokens": 0,
        "steps": 0,
        "predicted_flops": 0.0,
        "predicted_tokens": 1,
        "peak_memory_bytes": 0,
        "params_before": result.params_before,
        "params_after": result.params_after,
    }
    return str(folder / "model"), {"run_dir": str(folder), "method": "prune", "summary": summary}


def prune_spec(
    layers: int | None, heads: float | None, mlp: float | None, criterion: str | None, strategies
) -> PruneSpec:
    """--prune-* shape the prune stage of prune+lora; without that strategy they are a mistake."""
    given = {"layers": layers, "heads": heads, "mlp": mlp, "criterion": criterion}
    given = {k: v for k, v in given.items() if v is not None}
    if given and not any(s.stages[0].prune for s in strategies):
        raise UserError(
            "--prune-* set the prune stage; add a prune strategy to --strategies (e.g. lora,prune+lora)"
        )
    if given.keys() & {"layers", "heads", "mlp"}:
        given.setdefault("mlp", None)  # the default share applies only when no share is given
    return PruneSpec(**given)

"""The run folder's policy: where a run goes, which folder it may write or replace, and the files a
(re)started run begins with. Nothing of the user's is written over: see thrifty.outputs."""

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from thrifty.config.load import write_resolved
from thrifty.config.schema import RunConfig
from thrifty.errors import UserError
from thrifty.outputs import check_output, claim_output

SUMMARY = "summary.json"  # written last: its presence means the run finished
KIND = "train"


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    model = Path(config.model.name.rstrip("/")).name or "model"
    return Path("runs") / f"{model}-{config.method.name}-{stamp}"


def data_paths(config: RunConfig) -> list[Path]:
    """The local files this run reads: a replaced run folder must not hold them."""
    return [Path(p) for p in (config.data.path, config.data.eval_path) if p and Path(p).exists()]


def check_run_dir(run_dir: Path, config: RunConfig) -> None:
    """Before any work: a finished run is never replaced by accident, and a folder thrifty did not
    write is never written into (or, with --overwrite, deleted)."""
    overwrite = config.output.overwrite
    check_output(run_dir, KIND, overwrite, data_paths(config))
    if (run_dir / SUMMARY).exists() and not overwrite:
        raise UserError(
            f"{run_dir} already holds a finished run; choose another --output or pass --overwrite"
        )


def finished_summary(run_dir: Path) -> dict[str, Any] | None:
    """summary.json of a run that already finished, else None."""
    path = run_dir / SUMMARY
    return json.loads(path.read_text()) if path.is_file() else None


def open_run_dir(run_dir: Path, config: RunConfig, checkpoint: Path | None) -> None:
    """Claim the folder (replacing it on --overwrite), write the resolved config, and reset the files a
    restarted run begins with."""
    claim_output(run_dir, KIND, config.output.overwrite, data_paths(config))
    write_resolved(config, run_dir / "config.yaml")
    reset_run_files(run_dir, checkpoint)


def reset_run_files(run_dir: Path, checkpoint: Path | None) -> None:
    """metrics.jsonl as of the checkpoint (so lines logged after it, lost with the run, never repeat),
    and no temporary checkpoint folders left by a killed run."""
    from thrifty.train.checkpoint import METRICS

    path = run_dir / METRICS
    if checkpoint is not None and (checkpoint / METRICS).is_file():
        shutil.copyfile(checkpoint / METRICS, path)
    else:
        path.unlink(missing_ok=True)
    shutil.rmtree(run_dir / "trainer", ignore_errors=True)  # HF's temporary checkpoint folders


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []

"""Read a finished run folder (what `thrifty train` wrote) and load its model for eval and export."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError
from thrifty.io import read_json


@dataclass
class RunFolder:
    path: Path
    config: RunConfig
    summary: dict[str, Any]
    adapter_dir: Path | None  # RUN/adapter (peft methods)
    model_dir: Path | None  # RUN/model (full, freeze, scratch: the whole model)
    base: str | None = None  # --base: the user's own copy of the base model, over what the run recorded

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def tokenizer_dir(self) -> Path:
        tok = self.path / "tokenizer"
        return tok if tok.is_dir() else (self.model_dir or self.path)

    def adapter_config(self) -> dict[str, Any]:
        if self.adapter_dir is None:
            return {}
        return read_json(self.adapter_dir / "adapter_config.json", "adapter config")


def open_run(path: str | Path, trust_remote_code: bool = False, base: str | None = None) -> RunFolder:
    """A finished run: config.yaml, summary.json and either adapter/ or model/. One-line errors otherwise.

    A run folder may come from someone else, so its config.yaml cannot turn on code shipped with the
    model: only `trust_remote_code` (the command line's --trust-remote-code) can. Nor need its base be
    where the run recorded it: `base` (--base) names this machine's copy."""
    from thrifty.config.load import load_config

    run = Path(path)
    if not run.is_dir():
        raise UserError(f"run folder not found: {run}; pass the --output folder of a `thrifty train` run")
    if not (run / "config.yaml").is_file():
        raise UserError(f"{run} has no config.yaml: not a thrifty run folder")
    if not (run / "summary.json").is_file():
        raise UserError(f"{run} has no summary.json: the run did not finish (resume it with --resume auto)")
    adapter = run / "adapter"
    model = run / "model"
    adapter_dir = adapter if (adapter / "adapter_config.json").is_file() else None
    model_dir = model if (model / "config.json").is_file() else None
    if adapter_dir is None and model_dir is None:
        raise UserError(
            f"{run} has neither adapter/adapter_config.json nor model/config.json; "
            "the trained weights are missing (rerun `thrifty train`)"
        )
    if adapter_dir is not None:
        check_adapter_folder(adapter_dir)
    summary = read_json(run / "summary.json", "run summary")
    if not isinstance(summary, dict):
        raise UserError(f"{run / 'summary.json'}: not a run summary (a JSON object); rerun `thrifty train`")
    config = allowed_config(run, load_config(run / "config.yaml"), trust_remote_code, base)
    return RunFolder(run, config, summary, adapter_dir, model_dir, base)


def allowed_config(run: Path, config: RunConfig, trust_remote_code: bool, base: str | None) -> RunConfig:
    """The run's config with what the command line allows: remote code only with the flag (a run that
    asks for it without the flag is refused in one line), and no recorded revision for a --base copy."""
    if config.model.trust_remote_code and not trust_remote_code:
        raise UserError(
            f"{run} was trained with model.trust_remote_code=true: the model runs its own Python code; "
            "pass --trust-remote-code if you trust it"
        )
    update: dict[str, Any] = {"trust_remote_code": trust_remote_code and config.model.trust_remote_code}
    if base is not None:
        update["revision"] = None  # the revision named the recorded hub id, not the user's copy
    return config.model_copy(update={"model": config.model.model_copy(update=update)})


def run_holding(folder: str | Path) -> Path | None:
    """The run folder that `folder` is the adapter/ or model/ of (config.yaml beside it), else None."""
    folder = Path(folder)
    if folder.name in ("adapter", "model") and (folder.parent / "config.yaml").is_file():
        return folder.parent
    return None


def check_remote_code(folder: str | Path, trust_remote_code: bool) -> None:
    """A folder that belongs to a run (RUN/adapter, RUN/model) whose config.yaml asks for remote code
    is refused without the flag, as `open_run` refuses the run itself."""
    from thrifty.config.load import load_config

    run = run_holding(folder)
    if run is None:
        return
    try:
        config = load_config(run / "config.yaml")
    except UserError:
        return  # not a run's config: nothing recorded asks for anything
    allowed_config(run, config, trust_remote_code, None)


ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def check_adapter_folder(folder: str | Path) -> None:
    """A PEFT adapter folder peft can load: a readable adapter_config.json and the weights beside it."""
    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise UserError(f"adapter folder {folder} has no adapter_config.json; pass RUN/adapter")
    config = read_json(folder / "adapter_config.json", "adapter config")
    if not isinstance(config, dict) or "peft_type" not in config:
        raise UserError(f"{folder / 'adapter_config.json'}: not a PEFT adapter config (no peft_type)")
    if not any((folder / name).is_file() for name in ADAPTER_WEIGHTS):
        raise UserError(
            f"adapter folder {folder} has no {ADAPTER_WEIGHTS[0]}: its weights are missing; copy the whole "
            "adapter folder (or rerun `thrifty train`)"
        )


def base_model_path(run: RunFolder) -> str:
    """Where the base weights live: --base when given; else the path recorded at training time if it is
    still there, else the run's model name resolved (a received run's paths are someone else's)."""
    from thrifty.models.registry import resolve_model

    if run.base is not None:
        return resolve_model(run.base)
    recorded = run.summary.get("model_path")
    if recorded and (Path(recorded) / "config.json").is_file():
        return str(recorded)
    try:
        return resolve_model(run.config.model.name)
    except UserError as exc:
        raise UserError(
            f"{run.path}: its base model {run.config.model.name!r} is not on this machine ({exc}); "
            "pass --base MODEL with your copy of it (a folder, hub id or bundled name)"
        ) from None


def load_tokenizer_for(run: RunFolder):
    from thrifty.models.load import load_tokenizer

    return load_tokenizer(str(run.tokenizer_dir), run.config.model)


def load_base(run: RunFolder, dtype: str | None = None, device: str | None = None):
    """The base model exactly as training loaded it (full precision; quantized methods load unquantized),
    on `device` when one is given (see thrifty.inference.device)."""
    from thrifty.inference.device import place
    from thrifty.models.load import load_model

    model = load_model(base_model_path(run), _model_config(run, dtype), head=head_of(run))
    return place(model, device) if device else model


def load_tuned(run: RunFolder, dtype: str | None = None, device: str | None = None):
    """The fine-tuned model: base + peft adapter (a PeftModel), or the saved whole model; on `device`."""
    from thrifty.inference.device import place
    from thrifty.models.load import load_model

    if run.model_dir is not None:
        model = load_model(str(run.model_dir), _model_config(run, dtype), head=head_of(run))
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_base(run, dtype), str(run.adapter_dir))
    return (place(model, device) if device else model).eval()


def head_of(run: RunFolder) -> str:
    """A reward run's model ends in a one-score head; every other run's in the LM head."""
    from thrifty.config.objectives import OBJECTIVES

    return OBJECTIVES[run.config.train.objective].head


def _model_config(run: RunFolder, dtype: str | None):
    """The run's model settings, with the dtype overridden when one is asked for."""
    return run.config.model.model_copy(update={"dtype": dtype}) if dtype else run.config.model

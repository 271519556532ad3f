"""`thrifty prune MODEL --layers N --output DIR`: check everything, load the model, measure block
importance on calibration rows, drop the N least important blocks, and write an ordinary Hugging Face
folder (safetensors, config with the new num_hidden_layers, tokenizer) with prune.json written last."""

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thrifty.curate.rows import check_positive
from thrifty.errors import UserError

DEFAULT_CALIBRATION = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
REPORT = "prune.json"


@dataclass
class PruneOptions:
    model: str
    output: str
    layers: int | None = None  # whole decoder blocks to drop
    calibration: str = DEFAULT_CALIBRATION
    calibration_rows: int = 128  # the first N examples of --calibration
    max_seq_len: int = 256
    format: str = "auto"
    batch_size: int = 8
    overwrite: bool = False
    trust_remote_code: bool = False
    progress: bool = True


@dataclass
class PruneResult:
    output: str
    layers_before: int
    layers_after: int
    dropped: list[int]  # block numbers in the original model, from 0
    importance: list[float]  # per original block: mean 1 - cos(input, output) on the calibration tokens
    params_before: int
    params_after: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(options: PruneOptions):
    from thrifty.curate.rows import read_table
    from thrifty.models.registry import check_model_name
    from thrifty.outputs import check_output

    if options.layers is None:
        raise UserError("nothing to prune: pass --layers N (whole decoder blocks to drop)")
    for flag, value in (
        ("--layers", options.layers),
        ("--calibration-rows", options.calibration_rows),
        ("--batch-size", options.batch_size),
    ):
        check_positive(flag, value)
    check_model_name(options.model)
    check_output(Path(options.output), "prune", options.overwrite)
    table = read_table(options.calibration, options.format)
    return table.examples[: options.calibration_rows]


def prune(options: PruneOptions) -> PruneResult:
    from thrifty.config.schema import ModelConfig
    from thrifty.models.load import load_model, load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.prune.blocks import block_influence, decoder_blocks, drop_blocks

    started = time.perf_counter()
    examples = check(options)
    path = resolve_model(options.model)
    config = ModelConfig(name=options.model, trust_remote_code=options.trust_remote_code)
    model, tokenizer = load_model(path, config), load_tokenizer(path, config)
    before = len(decoder_blocks(model))
    if options.layers >= before:
        raise UserError(
            f"--layers {options.layers}: the model has {before} blocks; drop at most {before - 1}"
        )
    rows = calibration_rows(examples, tokenizer, options.max_seq_len)
    importance = block_influence(model, rows, options.batch_size, options.progress)
    dropped = sorted(sorted(range(before), key=lambda i: (importance[i], i))[: options.layers])
    params_before = sum(p.numel() for p in model.parameters())
    drop_blocks(model, dropped)
    result = PruneResult(
        output=str(options.output),
        layers_before=before,
        layers_after=before - len(dropped),
        dropped=dropped,
        importance=[round(v, 6) for v in importance],
        params_before=params_before,
        params_after=sum(p.numel() for p in model.parameters()),
        seconds=0.0,
    )
    save(model, tokenizer, Path(options.output), options, result, started)
    return result


def calibration_rows(examples, tokenizer, max_seq_len: int) -> list[dict[str, list[int]]]:
    """The calibration examples tokenized as training renders them (prompt and answer alike)."""
    from thrifty.data.tokenize import encode_example

    return [encode_example(e, tokenizer, max_seq_len, True)[0] for e in examples]


def save(model, tokenizer, folder: Path, options: PruneOptions, result: PruneResult, started: float) -> None:
    """The pruned model and tokenizer into the claimed folder; prune.json last (it says: finished)."""
    from thrifty.io import write_json_atomic
    from thrifty.outputs import claim_output

    claim_output(folder, "prune", options.overwrite)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    result.seconds = round(time.perf_counter() - started, 3)
    write_json_atomic(
        folder / REPORT, {**result.as_dict(), "model": options.model, "calibration": options.calibration}
    )

"""`thrifty prune MODEL [--layers N] [--heads R] [--mlp R] --output DIR`: check everything against the
model's config, load it, drop the N least important whole blocks (importance measured on calibration
rows), then remove the lowest-scoring heads and MLP channels of every remaining block, and write an
ordinary Hugging Face folder (safetensors, a config with the new sizes, tokenizer), prune.json last."""

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
    heads: float | None = None  # share of attention heads to remove from every block, in [0, 1)
    mlp: float | None = None  # share of MLP intermediate channels to remove from every block, in [0, 1)
    criterion: str = "taylor"  # what ranks heads and channels: see prune/criteria/
    head_groups: str = "within"  # "within": query heads evenly inside each KV group; "whole": KV groups
    mlp_multiple: int = 32  # MLP width kept at a multiple of this (GGUF's 32-value blocks)
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
    heads_before: int
    heads_after: int
    kv_heads_before: int
    kv_heads_after: int
    intermediate_before: int
    intermediate_after: int
    criterion: str | None  # what ranked heads and channels (None: only blocks were dropped)
    params_before: int
    params_after: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(options: PruneOptions):
    """Every flag against the model's config (read without the weights): the calibration examples."""
    from thrifty.curate.rows import read_table
    from thrifty.models.load import load_model_config
    from thrifty.models.registry import check_model_name, resolve_model
    from thrifty.outputs import check_output

    check_options(options)
    check_model_name(options.model)
    check_output(Path(options.output), "prune", options.overwrite)
    arch = load_model_config(resolve_model(options.model), trust_remote_code=options.trust_remote_code)
    check_shape(arch, options)
    table = read_table(options.calibration, options.format)
    return table.examples[: options.calibration_rows]


def check_options(options: PruneOptions) -> None:
    """The flags on their own: something to prune, shares in [0, 1), a known criterion."""
    from thrifty.prune import width

    if options.layers is None and options.heads is None and options.mlp is None:
        raise UserError("nothing to prune: pass --layers N, --heads RATIO and/or --mlp RATIO")
    for flag, value in (
        ("--calibration-rows", options.calibration_rows),
        ("--batch-size", options.batch_size),
    ):
        check_positive(flag, value)
    if options.layers is not None:
        check_positive("--layers", options.layers)
    width.check_ratio("--heads", options.heads)
    width.check_ratio("--mlp", options.mlp)
    check_positive("--mlp-multiple", options.mlp_multiple)
    if options.head_groups not in width.HEAD_GROUPS:
        raise UserError(f"--head-groups {options.head_groups!r}: choose {' or '.join(width.HEAD_GROUPS)}")
    if options.heads or options.mlp:
        from thrifty.prune.criteria import get_criterion

        get_criterion(options.criterion)


def check_shape(arch, options: PruneOptions) -> None:
    from thrifty.prune import blocks, width

    if options.layers is not None:
        blocks.check_architecture(arch)
        if options.layers >= arch.num_hidden_layers:
            raise UserError(
                f"--layers {options.layers}: the model has {arch.num_hidden_layers} blocks; "
                f"drop at most {arch.num_hidden_layers - 1}"
            )
    if options.heads or options.mlp:
        width.check_architecture(arch)
    if options.heads:
        width.heads_to_drop(width.head_shape(arch), options.heads, options.head_groups)
    if options.mlp:
        width.mlp_keep(arch.intermediate_size, options.mlp, options.mlp_multiple)


def prune(options: PruneOptions) -> PruneResult:
    from thrifty.config.schema import ModelConfig
    from thrifty.models.load import load_model, load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.prune import width

    started = time.perf_counter()
    examples = check(options)
    path = resolve_model(options.model)
    config = ModelConfig(name=options.model, trust_remote_code=options.trust_remote_code)
    model, tokenizer = load_model(path, config), load_tokenizer(path, config)
    rows = calibration_rows(examples, tokenizer, options.max_seq_len)
    before = width.head_shape(model.config)
    intermediate_before = getattr(model.config, "intermediate_size", 0)
    layers_before = model.config.num_hidden_layers
    params_before = sum(p.numel() for p in model.parameters())
    dropped, importance = drop_least_important(model, rows, options)
    shape = prune_width(model, rows, options)
    result = PruneResult(
        output=str(options.output),
        layers_before=layers_before,
        layers_after=model.config.num_hidden_layers,
        dropped=dropped,
        importance=importance,
        heads_before=before.heads,
        heads_after=shape.heads,
        kv_heads_before=before.kv_heads,
        kv_heads_after=shape.kv_heads,
        intermediate_before=intermediate_before,
        intermediate_after=getattr(model.config, "intermediate_size", 0),
        criterion=options.criterion if options.heads or options.mlp else None,
        params_before=params_before,
        params_after=sum(p.numel() for p in model.parameters()),
        seconds=0.0,
    )
    save(model, tokenizer, Path(options.output), options, result, started)
    return result


def drop_least_important(model, rows, options: PruneOptions) -> tuple[list[int], list[float]]:
    """ShortGPT: the --layers blocks whose output is closest to their input go."""
    from thrifty.prune.blocks import block_influence, drop_blocks

    if not options.layers:
        return [], []
    importance = block_influence(model, rows, options.batch_size, options.progress)
    dropped = sorted(sorted(range(len(importance)), key=lambda i: (importance[i], i))[: options.layers])
    drop_blocks(model, dropped)
    return dropped, [round(v, 6) for v in importance]


def prune_width(model, rows, options: PruneOptions):
    """Heads, then MLP channels, ranked by one calibration pass on the (block-pruned) model."""
    from thrifty.prune import width
    from thrifty.prune.criteria import get_criterion
    from thrifty.prune.statistics import calibrate

    if not options.heads and not options.mlp:
        return width.head_shape(model.config)
    criterion = get_criterion(options.criterion)
    norms = calibrate(model, rows, criterion.needs, options.batch_size, options.progress)
    shape = width.head_shape(model.config)
    if options.heads:
        shape = width.prune_heads(model, options.heads, options.head_groups, criterion, norms)
    if options.mlp:
        width.prune_mlp(model, options.mlp, options.mlp_multiple, criterion, norms)
    model.zero_grad(set_to_none=True)
    return shape


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

"""`thrifty data inspect` as a function: check the flags and the report folder, read the data, split it
as `thrifty train` would, measure it, price one epoch, then write the histograms and, last, report.md.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.errors import UserError


def train_default(section: str, name: str) -> Any:
    """A `thrifty train` default from the run schema, so inspect's split and length are training's."""
    from thrifty.config import schema

    model = {"data": schema.DataConfig, "train": schema.TrainConfig, "method": schema.MethodConfig}[section]
    return model.model_fields[name].default


@dataclass
class InspectOptions:
    data: str
    model: str
    eval: str | None = None
    gpu: str | None = None
    output: str | None = None  # report folder; None: ./<file stem>-inspect
    format: str = "auto"
    val_fraction: float | None = None  # None: training's data.val_fraction
    seed: int | None = None  # None: training's train.seed
    max_seq_len: int | None = None  # None: training's data.max_seq_len
    method: str = "lora"
    system_prompt: str | None = None
    near_dup: float = 0.85
    trust_remote_code: bool = False


def report_folder(options: InspectOptions) -> Path:
    from thrifty.data.readers import resolve_data_path

    if options.output:
        return Path(options.output).expanduser()
    return Path.cwd() / f"{resolve_data_path(options.data).stem}-inspect"


def check_options(options: InspectOptions) -> Path:
    """Flags, the GPU name and the report folder, before anything heavy loads; the folder to write."""
    from thrifty.curate.rows import check_threshold
    from thrifty.outputs import check_output

    if options.val_fraction is None:
        options.val_fraction = train_default("data", "val_fraction")
    if options.seed is None:
        options.seed = train_default("train", "seed")
    if options.max_seq_len is None:
        options.max_seq_len = train_default("data", "max_seq_len")
    if not 0 < options.val_fraction < 1:
        raise UserError(f"--val-fraction {options.val_fraction:g}: must be above 0 and below 1")
    if options.max_seq_len < 8:
        raise UserError(f"--max-seq-len {options.max_seq_len}: must be at least 8 (as data.max_seq_len)")
    check_threshold("--near-dup", options.near_dup)
    from thrifty.methods.table import METHODS

    if options.method not in METHODS:
        raise UserError(f"--method {options.method}: unknown; methods: {', '.join(METHODS)}")
    if options.gpu:
        from thrifty.plan.catalog import find_gpu

        find_gpu(options.gpu)
    from thrifty.models.registry import check_model_name

    check_model_name(options.model)
    folder = report_folder(options)
    check_output(folder, "data")
    return folder


def inspect_file(options: InspectOptions) -> dict[str, Any]:
    """Every figure of the report (also what --json prints); writes the report folder."""
    from thrifty.curate.clean.pipeline import rows_of, token_counter
    from thrifty.curate.inspect import measure
    from thrifty.curate.inspect.cost import epoch_cost
    from thrifty.curate.rows import load_tokenizer, read_table
    from thrifty.data import split_examples
    from thrifty.data.tokenize import check_max_seq_len
    from thrifty.models.registry import resolve_model

    folder = check_options(options)
    table = read_table(options.data, options.format)
    held_table = read_table(options.eval, options.format) if options.eval else None
    model_path = resolve_model(options.model)
    tokenizer = load_tokenizer(options.model, options.trust_remote_code)
    check_max_seq_len(tokenizer, options.max_seq_len, options.system_prompt)
    rows = rows_of(table)
    if held_table is not None:
        train, held, source = rows, rows_of(held_table), str(held_table.path)
    else:
        train, held = split_examples(rows, options.val_fraction, options.seed)
        source = f"held-out {options.val_fraction:g} of the file, seed {options.seed}"
    encoded = measure.encode(table.examples, tokenizer, options.max_seq_len, options.system_prompt)
    answers = token_counter(tokenizer)([r.answer for r in rows])
    in_train = {r.index for r in train}
    trained = [e.kept for r, e in zip(rows, encoded, strict=True) if r.index in in_train and e.learned]
    if not trained:
        raise UserError(f"{table.path}: no training example has anything to learn within --max-seq-len")
    figures = {
        "file": str(table.path),
        "format": table.format,
        "rows": len(table),
        "model": options.model,
        "split": {"train": len(train), "eval": len(held), "eval_source": source},
        "tokens": measure.token_figures(encoded, options.max_seq_len),
        "answers": measure.answer_figures(rows, answers),
        "duplicates": measure.duplicate_figures(rows, train, held, options.near_dup),
        "languages": measure.languages(rows),
        "cost": {
            "train_tokens": sum(trained),
            **epoch_cost(model_path, options.method, trained, options.max_seq_len, options.gpu),
        },
    }
    write_report(folder, figures, [e.tokens for e in encoded], answers)
    return figures


def write_report(folder: Path, figures: dict[str, Any], lengths: list[int], answers: list[int]) -> None:
    """The PNGs, then report.md (its presence says the folder is whole)."""
    from thrifty.curate.inspect.plots import histogram
    from thrifty.curate.inspect.report import markdown
    from thrifty.outputs import claim_output

    claim_output(folder, "data")
    files = {"report": folder / "report.md", "token_lengths": folder / "token_lengths.png"}
    files["answer_lengths"] = folder / "answer_lengths.png"
    limit = figures["tokens"]["max_seq_len"]
    histogram(files["token_lengths"], lengths, "Training tokens per example", "tokens", line=limit)
    histogram(files["answer_lengths"], answers, "Answer length", "tokens")
    figures["files"] = {name: str(path) for name, path in files.items()}
    text = markdown(figures)
    tmp = files["report"].with_name(".report.md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(files["report"])

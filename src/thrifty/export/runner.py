"""`thrifty export RUN`: merged safetensors, GGUF files, a GGUF adapter, an Ollama Modelfile, int8 weights.

Everything is checked before any work starts (bad input, a folder that is not an export's, files that
would be overwritten), and every file is built under a temporary name and renamed into place when
complete. The export folder is claimed with a `.thrifty` marker (thrifty.outputs): an export writes only
into a new or empty folder or one an export marked, and --force replaces only the files it writes there.
"""

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.errors import UserError
from thrifty.export.card import card_text, write_card
from thrifty.inference.device import choose_device
from thrifty.inference.run_folder import RunFolder, base_model_path, load_tokenizer_for, open_run
from thrifty.outputs import check_output, claim_output, marker_kind, write_marker

KIND = "export"  # the .thrifty marker of an export folder
# What an export writes at the top of its folder: a default RUN/export holding only these, from before
# exports carried a marker, is one of thrifty's own.
EXPORT_ENTRIES = {
    "merged",
    "gguf",
    "gguf-adapter",
    "int8",
    ".work",
    "merged.partial",
    "int8.partial",
    "README.md",
}


@dataclass
class ExportOptions:
    output: str | None = None  # default RUN/export
    merge: bool = False
    dtype: str = "fp32"
    gguf: list[str] | None = None
    gguf_adapter: bool = False
    ollama: bool = False
    system: str | None = None
    int8: bool = False
    force: bool = False
    trust_remote_code: bool = False  # only the command line may allow a run's model code
    base: str | None = None  # this machine's copy of the base model (default: where the run recorded it)
    device: str = "auto"  # where merging and the int8 eval run: auto, cpu or cuda


def export_run(run_path: str | Path, options: ExportOptions) -> dict[str, Any]:
    """Write what `options` asks for under RUN/export (or --output); returns the paths and the next commands."""
    device = choose_device(options.device)
    run = open_run(run_path, options.trust_remote_code, options.base)
    out = Path(options.output) if options.output else run.path / "export"
    targets = check_request(run, options, out)
    claim_export_folder(run, out)
    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    result: dict[str, Any] = {"run": str(run.path), "output": str(out), "files": {}, "commands": []}
    try:
        if options.merge or options.gguf or options.int8:
            hf_dir = _merged(run, out, options, work, result, device)
        if options.gguf:
            _gguf(run, out / "gguf", hf_dir, options, work, result)
        if options.gguf_adapter:
            _gguf_adapter(run, out / "gguf-adapter", options, result)
        if options.int8:
            from thrifty.export.int8 import export_int8

            # Without --merge the reference is the fp32 work copy the converters use.
            reference = options.dtype if options.merge else "fp32"
            result["int8"] = export_int8(run, hf_dir, out / "int8", reference, device)
            result["files"]["int8"] = str(out / "int8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["targets"] = [str(t) for t in targets]
    return result


def check_request(run: RunFolder, options: ExportOptions, out: Path) -> list[Path]:
    """Bad input and would-be overwrites, all before any work; returns the paths that will be written."""
    from thrifty.export.merge import DTYPES, check_mergeable

    if options.ollama and not (options.gguf or options.gguf_adapter):
        raise UserError(
            "--ollama writes a Modelfile for a GGUF: add --gguf q8_0 (or another type) or --gguf-adapter"
        )
    if not (options.merge or options.gguf or options.gguf_adapter or options.int8):
        raise UserError("nothing to export: pass --merge, --gguf TYPES, --gguf-adapter and/or --int8")
    if options.dtype not in DTYPES:
        raise UserError(f"--dtype {options.dtype}: choose from {', '.join(DTYPES)}")
    # The folder, then overwrites: cheap, and the architecture check below may fetch llama.cpp's converters.
    if not _earlier_export(run, out):
        check_output(out, KIND)  # never into a folder of the user's, --force or not
    targets = _targets(run, options, out)
    existing = [t for t in targets if t.exists()]
    if existing and not options.force:
        raise UserError(f"{existing[0]} exists; pass --force to replace it (or choose another --output)")
    if run.adapter_dir is not None:
        base_model_path(run)  # a base this machine lacks: one line naming --base, before any work
    if options.merge or options.gguf or options.int8:
        check_mergeable(run)
    if options.gguf_adapter:
        from thrifty.export.gguf import check_lora_adapter

        if run.adapter_dir is None:
            raise UserError(
                f"{run.path} has no adapter/ (method {run.config.method.name} saved the whole model); "
                "use --gguf to convert it"
            )
        check_lora_adapter(run.adapter_config())
    if options.gguf or options.gguf_adapter:
        from thrifty.export.gguf import check_architecture

        check_architecture(run.model_dir or Path(base_model_path(run)))
    return targets


def claim_export_folder(run: RunFolder, out: Path) -> None:
    """Make `out` this export's folder (created and marked); nothing in it is removed here."""
    if _earlier_export(run, out):
        write_marker(out, KIND)
    else:
        claim_output(out, KIND)


def _earlier_export(run: RunFolder, out: Path) -> bool:
    """The default RUN/export as an export wrote it before exports carried a marker."""
    return (
        out == run.path / "export"
        and out.is_dir()
        and marker_kind(out) is None
        and all(p.name in EXPORT_ENTRIES for p in out.iterdir())
    )


def _targets(run: RunFolder, options: ExportOptions, out: Path) -> list[Path]:
    """Every path an export writes, model cards included (each folder gets its own README.md)."""
    stem = file_stem(run)
    targets = []
    if options.merge:
        targets.append(out / "merged")  # the whole folder is replaced, its card with it
    if options.gguf:
        targets += [out / "gguf" / f"{stem}-{t}.gguf" for t in options.gguf]
        targets.append(out / "gguf" / "README.md")
        if options.ollama:
            targets.append(out / "gguf" / "Modelfile")
    if options.gguf_adapter:
        folder = out / "gguf-adapter"
        targets += [folder / f"{stem}-lora-f16.gguf", folder / "base-f16.gguf", folder / "README.md"]
        if options.ollama:
            targets.append(folder / "Modelfile")
    if options.int8:
        targets.append(out / "int8")
    return targets


def file_stem(run: RunFolder) -> str:
    """A file and Ollama model name from the run folder's name: lower case, [a-z0-9._-]."""
    return re.sub(r"[^a-z0-9._-]+", "-", run.name.lower()).strip("-.") or "model"


def _merged(
    run: RunFolder, out: Path, options: ExportOptions, work: Path, result: dict[str, Any], device: str
) -> Path:
    """Merged safetensors: kept in OUT/merged with --merge, else only a work copy for the converters."""
    from thrifty.export.merge import save_merged

    if not options.merge:
        return save_merged(run, work / "merged", "fp32", device)
    what = "merging the adapter into the base" if run.adapter_dir is not None else "saving the model"
    _progress(f"{what} ({options.dtype}, on {device}) ...")
    folder = save_merged(run, out / "merged", options.dtype, device)
    files = sorted(p.name for p in folder.iterdir())
    usage = [
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        f'model = AutoModelForCausalLM.from_pretrained("{folder}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
        f'# or: thrifty generate --model {folder} "your question"',
    ]
    write_card(folder, card_text(run, f"{run.name} (merged, {options.dtype})", files, usage))
    result["files"]["merged"] = str(folder)
    return folder


def _gguf(
    run: RunFolder, folder: Path, hf_dir: Path, options: ExportOptions, work: Path, result: dict
) -> None:
    from thrifty.export.gguf import write_gguf_set

    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(run)
    _progress(f"converting to GGUF ({', '.join(options.gguf)}) with llama.cpp's converter ...")
    files = write_gguf_set(hf_dir, folder, stem, options.gguf, work)
    result["files"]["gguf"] = {t: str(p) for t, p in files.items()}
    first = files[options.gguf[0]]
    usage = [f"python -c \"from llama_cpp import Llama; print(Llama('{first}')('Hello'))\""]
    notes = []
    if options.ollama:
        usage.append(_ollama(run, folder, first, None, options, result, stem))
        if len(files) > 1:
            notes.append(f"the Modelfile uses {first.name}; edit its FROM line to use another type")
    names = [p.name for p in files.values()] + (["Modelfile"] if options.ollama else [])
    write_card(folder, card_text(run, f"{run.name} (GGUF)", names, usage, notes))


def _gguf_adapter(run: RunFolder, folder: Path, options: ExportOptions, result: dict) -> None:
    """The LoRA alone as a GGUF adapter, plus the unchanged base as f16 GGUF to apply it to."""
    from thrifty.export.gguf import convert_adapter, convert_model

    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(run)
    base_dir = Path(base_model_path(run))
    _progress("converting the LoRA adapter and the base to GGUF with llama.cpp's converters ...")
    adapter = convert_adapter(run.adapter_dir, base_dir, folder / f"{stem}-lora-f16.gguf")
    base = convert_model(base_dir, folder / "base-f16.gguf", "f16")
    result["files"]["gguf_adapter"] = {"adapter": str(adapter), "base": str(base)}
    usage = [
        f"python -c \"from llama_cpp import Llama; print(Llama('{base}', lora_path='{adapter}')('Hello'))\""
    ]
    if options.ollama:
        usage.append(_ollama(run, folder, base, adapter, options, result, stem + "-lora"))
    names = [adapter.name, base.name] + (["Modelfile"] if options.ollama else [])
    write_card(folder, card_text(run, f"{run.name} (GGUF LoRA adapter)", names, usage))


def _ollama(
    run, folder: Path, gguf: Path, adapter: Path | None, options: ExportOptions, result, name: str
) -> str:
    from thrifty.export.ollama import modelfile

    text, notes = modelfile(gguf, load_tokenizer_for(run), system_message(run, options), adapter)
    path = folder / "Modelfile"
    tmp = path.with_name("Modelfile.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    for note in notes:
        _progress(f"note: {note}")
    command = f"ollama create {name} -f {path}"
    result["commands"].append(command)
    return command


def system_message(run: RunFolder, options: ExportOptions) -> str | None:
    """--system, else the system prompt the run trained with (the model learned its answers under it);
    None lets the Modelfile fall back to the chat template's own default."""
    return options.system if options.system is not None else run.config.data.system_prompt


def _progress(message: str) -> None:
    print(message, file=sys.stderr)

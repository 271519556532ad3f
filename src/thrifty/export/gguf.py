"""GGUF files through llama.cpp's own tools: convert_hf_to_gguf.py writes f32/f16/bf16, llama.cpp's quantizer
(`llama_cpp.llama_model_quantize`) makes the smaller types from the f16 file, convert_lora_to_gguf.py
writes a LoRA adapter that llama.cpp applies on an unchanged base."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from thrifty.errors import UserError
from thrifty.export.llama_cpp_tools import (
    MISSING_LLAMA_CPP,
    ensure_tools,
    run_script,
    supported_architectures,
)
from thrifty.io import read_json

CONVERTER_TYPES = ("f32", "f16", "bf16")  # written by the converter itself, no quantizer pass
FTYPE_PREFIX = "LLAMA_FTYPE_MOSTLY_"
# llama.cpp refuses these without an importance matrix (llama-imatrix over calibration text).
NEEDS_IMATRIX = ("iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "q2_k_s")


def quantizer_types() -> dict[str, int]:
    """llama.cpp's quantization file types by lower-case name (q8_0, q4_k_m, ...), read from the library."""
    llama_cpp = import_llama_cpp()
    return {
        name[len(FTYPE_PREFIX) :].lower(): getattr(llama_cpp, name)
        for name in dir(llama_cpp)
        if name.startswith(FTYPE_PREFIX)
        and name[len(FTYPE_PREFIX) :].lower() not in (*CONVERTER_TYPES, *NEEDS_IMATRIX)
    }


def import_llama_cpp():
    """llama-cpp-python's ctypes module; an optional extra, so its absence is a one-line hint, not a traceback."""
    try:
        from llama_cpp import llama_cpp
    except ImportError:
        raise UserError(MISSING_LLAMA_CPP) from None
    return llama_cpp


def parse_types(text: str) -> list[str]:
    """`q8_0,q4_k_m` -> ["q8_0", "q4_k_m"]; an unknown name lists the known ones."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    known = [*CONVERTER_TYPES, *quantizer_types()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UserError(
            f"unknown GGUF type {', '.join(unknown) or repr(text)}; choose from {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


def check_architecture(model_dir: Path) -> str:
    """The model's architecture, if llama.cpp's converter supports it; else a one-line error listing them."""
    config = read_json(model_dir / "config.json", "model config")
    archs = config.get("architectures") or []
    supported = supported_architectures()
    if not archs or archs[0] not in supported:
        causal = [a for a in supported if a.endswith("ForCausalLM")]
        raise UserError(
            f"{model_dir}: architecture {archs[0] if archs else '(none in config.json)'} is not supported by "
            f"llama.cpp's converter; supported causal LMs: {', '.join(causal)}"
        )
    return archs[0]


def convert_model(hf_dir: Path, out_file: Path, outtype: str = "f16") -> Path:
    """HF safetensors folder -> one GGUF file (llama.cpp's convert_hf_to_gguf.py)."""
    check_architecture(hf_dir)
    tmp = out_file.with_name(out_file.name + ".partial")
    args = [str(hf_dir), "--outfile", str(tmp), "--outtype", outtype, "--model-name", out_file.stem]
    return _converted("convert_hf_to_gguf.py", args, tmp, out_file)


def _converted(script: str, args: list[str], tmp: Path, out_file: Path) -> Path:
    """Run a converter writing `tmp`, then rename it to `out_file`; a failed or interrupted run leaves
    no half-written file behind."""
    try:
        run_script(ensure_tools(), script, args)
        tmp.rename(out_file)
    finally:
        tmp.unlink(missing_ok=True)
    return out_file


def quantize(source: Path, out_file: Path, qtype: str) -> Path:
    """An f16/f32 GGUF -> `qtype` with llama.cpp's quantizer (in-process, through llama-cpp-python)."""
    import ctypes

    llama_cpp = import_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = quantizer_types()[qtype]
    tmp = out_file.with_name(out_file.name + ".partial")
    log = out_file.with_name(out_file.name + ".log")
    try:
        with _c_output_to(log):  # llama.cpp prints a line per tensor from C; kept only for an error message
            status = llama_cpp.llama_model_quantize(
                str(source).encode(), str(tmp).encode(), ctypes.byref(params)
            )
        tail = log.read_text(errors="replace").strip().splitlines()[-10:]
        if status != 0:
            raise RuntimeError(
                f"llama.cpp could not quantize {source} to {qtype} (status {status}):\n" + "\n".join(tail)
            )
        tmp.rename(out_file)
    finally:  # no .partial or .log left behind on failure or Ctrl-C
        tmp.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
    return out_file


@contextmanager
def _c_output_to(path: Path):
    """Send the process's stdout/stderr file descriptors (what C code writes to) to `path` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def check_lora_adapter(adapter_config: dict) -> None:
    if adapter_config.get("peft_type") != "LORA" or adapter_config.get("use_dora"):
        kind = "DoRA" if adapter_config.get("use_dora") else adapter_config.get("peft_type")
        raise UserError(
            f"--gguf-adapter converts plain LoRA adapters only (llama.cpp has no {kind} adapters); "
            "use --gguf to export the merged model instead"
        )


def convert_adapter(adapter_dir: Path, base_dir: Path, out_file: Path, outtype: str = "f16") -> Path:
    """A peft LoRA folder -> a GGUF adapter for `Llama(..., lora_path=...)` / Ollama's ADAPTER."""
    check_architecture(base_dir)
    tmp = out_file.with_name(out_file.name + ".partial")
    args = [str(adapter_dir), "--base", str(base_dir), "--outfile", str(tmp), "--outtype", outtype]
    return _converted("convert_lora_to_gguf.py", args, tmp, out_file)


def write_gguf_set(hf_dir: Path, out_dir: Path, stem: str, types: list[str], work: Path) -> dict[str, Path]:
    """Each requested type as OUT/<stem>-<type>.gguf; the smaller types are quantized from one f16 file."""
    files: dict[str, Path] = {}
    f16 = out_dir / f"{stem}-f16.gguf" if "f16" in types else work / f"{stem}-f16.gguf"
    for t in types:
        if t in CONVERTER_TYPES and t != "f16":
            files[t] = convert_model(hf_dir, out_dir / f"{stem}-{t}.gguf", t)
    if any(t not in CONVERTER_TYPES or t == "f16" for t in types):
        convert_model(hf_dir, f16, "f16")
        if "f16" in types:
            files["f16"] = f16
    for t in types:
        if t not in CONVERTER_TYPES:
            files[t] = quantize(f16, out_dir / f"{stem}-{t}.gguf", t)
    if "f16" not in types:
        f16.unlink(missing_ok=True)  # only the quantizer's input, not asked for
    return {t: files[t] for t in types}

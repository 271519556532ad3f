"""The `thrifty export` verb: its arguments and the function it maps to."""

import argparse
import json

from thrifty.errors import UserError
from thrifty.inference.device import add_device_argument
from thrifty.quiet import quiet_libraries


def add_parser(verbs) -> None:
    add_export_parser(verbs).set_defaults(func=run_export)


def add_export_parser(verbs) -> argparse.ArgumentParser:
    ex = verbs.add_parser(
        "export",
        help="Merge the adapter, write GGUF files (llama.cpp), an Ollama Modelfile, int8 weights.",
        description="Ship a finished run: --merge (safetensors), --gguf TYPES (llama.cpp's converter and "
        "quantizer), --gguf-adapter (LoRA alone), --ollama (Modelfile), --int8. Output: RUN/export/ or --output.",
    )
    ex.add_argument("run", nargs="?", help="Run folder written by `thrifty train`.")
    ex.add_argument(
        "--output",
        help="Export folder (default RUN/export): a new or empty folder, or one a previous export wrote.",
    )
    ex.add_argument("--merge", action="store_true", help="Merge the adapter into the base; save safetensors.")
    ex.add_argument(
        "--dtype", default="fp32", help="Merged weights dtype: fp32, bf16 or fp16 (default fp32)."
    )
    ex.add_argument(
        "--gguf", metavar="TYPES", help="GGUF types, comma-separated: f16, q8_0, q4_k_m, ... (f32, bf16 too)."
    )
    ex.add_argument(
        "--gguf-adapter",
        action="store_true",
        help="The LoRA alone as a GGUF adapter, plus the base as f16 GGUF.",
    )
    ex.add_argument("--ollama", action="store_true", help="Also write an Ollama Modelfile beside the GGUF.")
    ex.add_argument(
        "--system",
        help="SYSTEM message for the Modelfile (default: the run's data.system_prompt, else the chat "
        "template's own, if any).",
    )
    ex.add_argument(
        "--int8",
        action="store_true",
        help="Post-training int8 of the merged model, with size and eval delta.",
    )
    ex.add_argument("--force", action="store_true", help="Replace files a previous export wrote.")
    ex.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="Allow the Python code shipped with the run's model (a run folder's own config cannot).",
    )
    ex.add_argument(
        "--base",
        metavar="MODEL",
        help="Your copy of the run's base model (folder, hub id or bundled name); default: where the run "
        "recorded it.",
    )
    add_device_argument(ex)
    ex.add_argument(
        "--fetch-tools",
        action="store_true",
        help="Fetch llama.cpp's converters into the cache (done by make setup).",
    )
    ex.add_argument("--json", action="store_true", help="Print what was written as JSON.")
    return ex


def run_export(args: argparse.Namespace) -> int:
    """`thrifty export RUN ...` (or `--fetch-tools` alone): options from the command line, then `export_run`."""
    if args.fetch_tools:
        from thrifty.export.llama_cpp_tools import ensure_tools

        print(ensure_tools())
        if not args.run:
            return 0
    if not args.run:
        raise UserError(
            "thrifty export needs a run folder: thrifty export RUN --merge | --gguf q8_0 | --gguf-adapter"
        )
    from thrifty.export.runner import ExportOptions, export_run

    options = ExportOptions(
        output=args.output,
        merge=args.merge,
        dtype=args.dtype,
        gguf=None,
        gguf_adapter=args.gguf_adapter,
        ollama=args.ollama,
        system=args.system,
        int8=args.int8,
        force=args.force,
        trust_remote_code=args.trust_remote_code,
        base=args.base,
        device=args.device,
    )
    if args.gguf:
        from thrifty.export.gguf import parse_types

        options.gguf = parse_types(args.gguf)
    quiet_libraries()
    result = export_run(args.run, options)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    for path in result["targets"]:
        print(f"wrote {path}")
    if "int8" in result:
        from thrifty.export.int8 import summary_lines

        for line in summary_lines(result["int8"]):
            print(line)
    for command in result["commands"]:
        print(f"next: {command}")
    return 0

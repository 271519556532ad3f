"""The `thrifty generate` verb: its arguments and the function it maps to."""

import argparse
import json

from thrifty.errors import UserError
from thrifty.inference.device import add_device_argument


def add_parser(verbs) -> None:
    gen = verbs.add_parser("generate", help="Answer prompts with a model and optional adapter.")
    gen.add_argument("prompt", nargs="+", help="One or more user prompts.")
    gen.add_argument(
        "--model",
        "--base",
        dest="model",
        help="Base model: bundled name, folder or hub id (default: the base the first --adapter's run "
        "trained, for RUN/adapter; else smollm2-135m).",
    )
    gen.add_argument(
        "--adapter",
        action="append",
        help="PEFT adapter folder, e.g. runs/first/adapter; repeat to load several onto one base.",
    )
    gen.add_argument(
        "--use",
        help="Which loaded adapter answers: its run name, its folder, or base (comma-separated: each in turn). "
        "Default: the first --adapter.",
    )
    gen.add_argument("--max-new-tokens", type=int, default=128, help="Most tokens to generate per answer.")
    gen.add_argument("--sample", action="store_true", help="Sample instead of greedy decoding.")
    gen.add_argument("--temperature", type=float, default=0.7, help="Sampling temperature (with --sample).")
    gen.add_argument("--top-p", type=float, default=0.9, help="Nucleus sampling mass (with --sample).")
    gen.add_argument("--top-k", type=int, default=50, help="Top-k sampling cut-off (with --sample).")
    gen.add_argument("--system", help="System message (chat-template models).")
    gen.add_argument("--seed", type=int, help="Seed for sampling.")
    gen.add_argument("--trust-remote-code", action="store_true", help="Allow code shipped with the model.")
    add_device_argument(gen)
    gen.add_argument("--json", action="store_true", help="One JSON line per prompt.")
    gen.set_defaults(func=cmd_generate)


def split_list(text: str | None) -> list[str] | None:
    items = [x.strip() for x in text.split(",") if x.strip()] if text else []
    return items or None


def cmd_generate(args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.inference.device import choose_device
    from thrifty.inference.generate import (
        GenerationOptions,
        adapter_names,
        generate_as,
        load_for_generation,
        select_adapter,
    )

    folders = args.adapter or []
    uses = split_list(args.use) or adapter_names(folders)[:1] or [None]
    if args.use and not folders and args.use != "base":
        raise UserError("--use picks one of the --adapter folders; pass --adapter DIR (repeatable) first")
    device = choose_device(args.device)
    model, tokenizer = load_for_generation(args.model, folders, args.trust_remote_code, device)
    options = GenerationOptions(
        max_new_tokens=args.max_new_tokens,
        do_sample=args.sample,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        system_prompt=args.system,
    )
    for use in uses:
        name = select_adapter(model, folders, use) if use else None
        if args.seed is not None:
            import torch

            torch.manual_seed(args.seed)
        answers = generate_as(model, tokenizer, args.prompt, options, name)
        for prompt, answer in zip(args.prompt, answers, strict=True):
            if args.json:
                print(json.dumps({"prompt": prompt, "answer": answer, **({"adapter": name} if name else {})}))
            else:
                print(f"[{name}] {answer}" if len(uses) > 1 else answer)
    return 0

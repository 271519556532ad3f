"""Does spending on data save compute? SmolLM2-135M LoRA (the demo's settings) on two real domains from
PyPI: the construction FAQ (zaragoza-construction-faq) and chatterbot-corpus's English conversations.

Each domain: a fixed held-out set (30 rows) and a fixed training pool (100 rows), both seeded, drawn
from the domain's rows after `thrifty data clean`'s exact and near-duplicate rules (no leakage). Every run
trains one epoch unless said otherwise, so compute is what the rows cost; quality is the held-out
answer-token loss (nats/token) after training, the same 30 rows for every run of a domain.

  a) random 25/50/100% of the pool vs `thrifty data select --strategy loss+diversity` at 25/50%
  b) 30 labelled rows: repeated vs the same rows + `thrifty data augment` rows, the same steps
  c) data.order curriculum and length vs shuffle on the same 100 rows, the same steps
  d) few-shot (4 retrieved shots in the prompt, no training) vs LoRA on the pool
  e) what `thrifty data clean` removes from each domain's whole file
  f) a)'s strategies one at a time: loss alone, diversity alone, at 25/50%

    HF_HUB_OFFLINE=1 .venv/bin/python bench/data_efficiency.py [--parts abcde] [--domains faq,chatterbot]

Writes WORK/results.json (default runs/bench-data) and prints the tables docs/data.md shows. Parts can
be run separately; results.json keeps the earlier parts' rows. CPU figures: say which CPU and the load.
"""

import argparse
import contextlib
import io
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import yaml

from thrifty.cli import main as thrifty

FAQ = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
DEMO = Path(__file__).resolve().parents[1] / "src" / "thrifty" / "configs" / "smollm2-135m_lora_faq.yaml"
# Small enough for a 2-core CPU without AVX-512 (~35 tokens/s of SmolLM2 LoRA in fp32): the whole bench
# is ~40 min there. Raise them on a faster machine; every figure is a ratio within one run of the bench.
EVAL_ROWS, POOL_ROWS, LABELLED = 30, 100, 30
MAX_SEQ_LEN = 128  # FAQ rows are ~100 tokens (p95 140), chatterbot's ~55
MICRO_BATCH = 8
FEW_SHOT_LEN = 1024


def chatterbot_rows() -> list[dict]:
    """Every English category's (statement, reply) pairs as alpaca rows."""
    import chatterbot_corpus

    rows = []
    for path in sorted((Path(chatterbot_corpus.__file__).parent / "data" / "english").glob("*.yml")):
        for conv in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations") or []:
            for i in range(0, len(conv) - 1, 2):
                rows.append({"instruction": str(conv[i]), "input": "", "output": str(conv[i + 1])})
    return rows


def domain_rows(domain: str) -> list[dict]:
    from thrifty.curate.rows import read_table

    return read_table(FAQ).records if domain == "faq" else chatterbot_rows()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def split_domain(domain: str, work: Path) -> dict[str, Path]:
    """Held-out and pool rows from the domain's rows without exact and near duplicates: chatterbot's
    English file repeats half its pairs, and a seeded split of it would test on rows it trains on."""
    folder = work / domain
    folder.mkdir(parents=True, exist_ok=True)
    raw = write_jsonl(folder / "all.jsonl", domain_rows(domain))
    unique = folder / "unique.jsonl"
    argv = ["data", "clean", str(raw), "--output", str(unique), "--skip", "length,repetition,language"]
    assert quiet([*argv, "--no-progress", "--json"])[0] == 0, "dedup failed"
    rows = read_jsonl(unique)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    files = {
        "all": raw,
        "eval": write_jsonl(folder / "eval.jsonl", [rows[i] for i in order[:EVAL_ROWS]]),
        "pool": write_jsonl(
            folder / "pool.jsonl", [rows[i] for i in order[EVAL_ROWS : EVAL_ROWS + POOL_ROWS]]
        ),
    }
    files["labelled"] = write_jsonl(folder / "labelled.jsonl", read_jsonl(files["pool"])[:LABELLED])
    return files


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def quiet(argv: list[str]) -> tuple[int, str]:
    """A thrifty command in this process, its stdout captured (for --json)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = thrifty(argv)
    return code, out.getvalue()


def train(name: str, data: Path, eval_file: Path, work: Path, *overrides: str) -> dict:
    from thrifty.config import load_config
    from thrifty.train.run import train as run_training

    config = load_config(
        DEMO,
        [
            f"data.path={data}",
            f"data.eval_path={eval_file}",
            "train.max_steps=null",
            "train.epochs=1",
            f"train.micro_batch_size={MICRO_BATCH}",
            f"data.max_seq_len={MAX_SEQ_LEN}",
            "train.logging_steps=5",
            f"output.dir={work / 'runs' / name}",
            "output.overwrite=true",
            *overrides,
        ],
    )
    started = time.perf_counter()
    summary = run_training(config, progress=False).summary
    keys = (
        "train_examples",
        "steps",
        "train_tokens",
        "eval_loss_before",
        "eval_loss_after",
        "tokens_per_second",
    )
    row = {k: summary.get(k) for k in keys}
    row.update(name=name, seconds=round(time.perf_counter() - started, 1))
    print(f"{name}: {row}", file=sys.stderr)
    return row


def select(pool: Path, out: Path, strategy: str, fraction: float) -> dict:
    argv = ["data", "select", str(pool), "--fraction", str(fraction), "--strategy", strategy]
    argv += ["--max-seq-len", str(MAX_SEQ_LEN)]
    started = time.perf_counter()
    code, printed = quiet([*argv, "--output", str(out), "--json", "--no-progress"])
    assert code == 0, f"select {strategy} failed"
    return {**json.loads(printed), "wall_seconds": round(time.perf_counter() - started, 1)}


def subsets(domain: str, files: dict[str, Path], work: Path, strategies: tuple[str, ...]) -> list[dict]:
    """One epoch on each strategy's 25% and 50% pick of the pool."""
    rows = []
    for fraction in (0.25, 0.5):
        pct = int(fraction * 100)
        for strategy in strategies:
            subset = work / domain / f"{strategy}-{pct}.jsonl"
            picked = select(files["pool"], subset, strategy, fraction)
            row = train(f"{domain}-{strategy}-{pct}", subset, files["eval"], work)
            row["select_seconds"] = picked["wall_seconds"]  # the scoring pass (cached after the first)
            rows.append(row)
    return rows


def part_a(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    full = train(f"{domain}-random-100", files["pool"], files["eval"], work)
    return [full, *subsets(domain, files, work, ("random", "loss+diversity"))]


def part_f(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    """a)'s other strategies: loss alone and diversity alone, so a) shows which half of loss+diversity helps."""
    return subsets(domain, files, work, ("loss", "diversity"))


def part_b(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    aug = work / domain / "augmented.jsonl"
    started = time.perf_counter()
    argv = ["data", "augment", str(files["labelled"]), "--paraphrases", "1", "--synonyms"]
    code, printed = quiet([*argv, "--output", str(aug), "--json", "--no-progress"])
    assert code == 0, "augment failed"
    made = json.loads(printed)
    augment_seconds = round(time.perf_counter() - started, 1)
    rows_out = len(read_jsonl(aug))
    steps = math.ceil(rows_out / MICRO_BATCH)  # one epoch of the augmented file; the 50 repeat to match
    plain = train(
        f"{domain}-labelled-{LABELLED}", files["labelled"], files["eval"], work, f"train.max_steps={steps}"
    )
    more = train(f"{domain}-labelled-{LABELLED}+aug", aug, files["eval"], work, f"train.max_steps={steps}")
    more.update(augment_seconds=augment_seconds, augmented_rows=rows_out - LABELLED, augment_summary=made)
    return [plain, more]


def part_c(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    subset = work / domain / "random-50.jsonl"
    if not subset.is_file():
        select(files["pool"], subset, "random", 0.5)
    rows = []
    for order in ("shuffle", "length", "curriculum"):
        started = time.perf_counter()
        rows.append(train(f"{domain}-order-{order}", subset, files["eval"], work, f"data.order={order}"))
        rows[-1]["order"] = order
        rows[-1]["wall_seconds"] = round(time.perf_counter() - started, 1)
    return rows


def part_d(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    from thrifty.compare.fewshot import FewShotSpec, run_few_shot
    from thrifty.config import load_config

    config = load_config(
        # The shots' context is inference, not training: 1024 tokens fit 4 FAQ shots (128 would fit none).
        DEMO,
        [f"data.path={files['pool']}", f"data.eval_path={files['eval']}", f"data.max_seq_len={FEW_SHOT_LEN}"],
    )
    started = time.perf_counter()
    result = run_few_shot(config, FewShotSpec(k=4, pick="retrieved"))
    summary = result["summary"]
    row = {
        "name": f"{domain}-few-shot-4",
        "eval_loss_before": summary["eval_loss_before"],
        "eval_loss_after": summary["eval_loss_after"],
        "steps": 0,
        "train_tokens": 0,
        "seconds": round(time.perf_counter() - started, 1),
        "few_shot": result["few_shot"],
    }
    print(f"{row['name']}: {row}", file=sys.stderr)
    return [row]


def part_e(domain: str, files: dict[str, Path], work: Path) -> list[dict]:
    out = work / domain / "clean.jsonl"
    started = time.perf_counter()
    code, printed = quiet(
        ["data", "clean", str(files["all"]), "--output", str(out), "--lang", "en", "--json"]
    )
    assert code == 0, "clean failed"
    return [
        {"name": f"{domain}-clean", "seconds": round(time.perf_counter() - started, 1), **json.loads(printed)}
    ]


def train_seconds(row: dict) -> float:
    """Seconds of training alone (tokens / tokens per second): no loading, no evaluation."""
    return row["train_tokens"] / row["tokens_per_second"] if row.get("tokens_per_second") else 0.0


def table(rows: list[dict], extra: str | None = None) -> str:
    """Quality per compute: held-out loss after, its gain over the base, and that gain per 1k train tokens."""
    head = "| run | rows | steps | train tokens | train s | extra s | eval loss | gain | gain / 1k tokens |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        gain = r["eval_loss_before"] - r["eval_loss_after"]
        per_k = f"{1000 * gain / r['train_tokens']:.3f}" if r.get("train_tokens") else "-"
        spent = r.get(extra) if extra else None
        lines.append(
            f"| {r['name']} | {r.get('train_examples', '-')} | {r['steps']} | {r['train_tokens']:,} "
            f"| {train_seconds(r):.0f} | {spent if spent is not None else '-'} | {r['eval_loss_after']:.3f} "
            f"| {gain:+.3f} | {per_k} |"
        )
    return "\n".join(lines)


def report(results: dict) -> str:
    out = []
    for domain, parts in results.items():
        if not isinstance(parts, dict):
            continue
        out.append(f"### {domain}\n")
        for part, extra in (
            ("a", "select_seconds"),
            ("f", "select_seconds"),
            ("b", "augment_seconds"),
            ("c", None),
            ("d", None),
        ):
            if part in parts:
                out.append(f"{part})\n\n{table(parts[part], extra)}\n")
        if "e" in parts:
            out.append("e)\n\n```\n" + json.dumps(parts["e"], indent=1)[:3000] + "\n```\n")
    return "\n".join(out)


PARTS = {"a": part_a, "b": part_b, "c": part_c, "d": part_d, "e": part_e, "f": part_f}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="abcdef", help="Which measurements (letters a-f).")
    parser.add_argument("--domains", default="faq,chatterbot", help="faq, chatterbot or both.")
    parser.add_argument("--work", default="runs/bench-data", help="Folder for data, runs and results.json.")
    parser.add_argument(
        "--report", action="store_true", help="Print the tables of WORK/results.json and stop."
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results_file = work / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    if args.report:
        print(report(results))
        return 0
    for domain in args.domains.split(","):
        files = split_domain(domain, work)
        for part in args.parts:
            rows = PARTS[part](domain, files, work)
            results.setdefault(domain, {})[part] = rows
            results_file.write_text(json.dumps(results, indent=1, default=str))
    results["load_average"] = os.getloadavg()
    results_file.write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

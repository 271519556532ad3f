"""README.md model card for every export folder: where the model came from, how it was trained, how well it
does (eval.json when `thrifty eval` ran) and what the training cost."""

import os
from pathlib import Path
from typing import Any

from thrifty.inference.run_folder import RunFolder
from thrifty.io import read_json


def card_text(
    run: RunFolder, title: str, files: list[str], usage: list[str], notes: list[str] | None = None
) -> str:
    s, c = run.summary, run.config
    lines = [
        "---",
        f"base_model: {c.model.name}",
        "library_name: " + ("peft" if run.adapter_dir is not None and "adapter" in title else "transformers"),
        "tags: [thrifty, fine-tuned]",
        "---",
        "",
        f"# {title}",
        "",
        f"Fine-tuned from **{c.model.name}** with **{c.method.name}** by thrifty (run `{run.name}`).",
        "",
        "## Files",
        "",
        *[f"- `{name}`" for name in files],
        "",
        "## Use",
        "",
        "```",
        *usage,
        "```",
        "",
        "## Training",
        "",
        _table(["what", "value"], _training_rows(run)),
        "",
        "## Evaluation",
        "",
        *_eval_lines(run),
        "",
        "## Training cost",
        "",
        _table(["what", "value"], _cost_rows(s)),
    ]
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def _training_rows(run: RunFolder) -> list[list[str]]:
    c, s = run.config, run.summary
    m, d, t = c.method, c.data, c.train
    method = m.name
    if run.adapter_dir is not None:
        cfg = run.adapter_config()
        method += f" (peft {cfg.get('peft_type')}, r={cfg.get('r')}, alpha={cfg.get('lora_alpha')}, targets {cfg.get('target_modules')})"
    return [
        ["base model", c.model.name],
        ["method", method],
        [
            "data",
            f"`{d.path}` ({s.get('data_format')}, {s.get('train_examples')} train / {s.get('eval_examples')} eval examples)",
        ],
        ["max_seq_len", str(d.max_seq_len)],
        ["steps / epochs", f"{s.get('steps')} / {s.get('epochs')}"],
        ["batch", f"{t.micro_batch_size} x {t.gradient_accumulation_steps} accumulation"],
        ["learning rate", f"{t.learning_rate:g} ({t.lr_scheduler}, warmup {t.warmup_ratio:g})"],
        ["precision", str(s.get("precision"))],
        ["seed", str(t.seed)],
        ["trainable parameters", f"{s.get('trainable_params', 0):,} of {s.get('total_params', 0):,}"],
        ["objective", t.objective + (f" (beta {t.beta:g})" if t.objective != "sft" else "")],
        [
            "eval loss before -> after",
            f"{s.get('eval_loss_before', float('nan')):.4f} -> {s.get('eval_loss_after', float('nan')):.4f}",
        ],
        *(
            [f"held-out {label} before -> after", f"{s[key + '_before']:.4f} -> {s[key + '_after']:.4f}"]
            for label, key in (
                ("reward margin", "reward_margin"),
                ("preference accuracy", "preference_accuracy"),
            )
            if s.get(key + "_before") is not None and s.get(key + "_after") is not None
        ),
    ]


def _eval_lines(run: RunFolder) -> list[str]:
    path = run.path / "eval.json"
    if not path.is_file():
        return [f"Not evaluated yet: `thrifty eval {run.path} --compare-base`, then export again."]
    report = read_json(path, "eval report")
    from thrifty.eval.report import headers, metric_rows

    return [
        f"`thrifty eval` on {report['examples']} examples from `{report['data']}`:",
        "",
        _table(headers(report), metric_rows(report)),
    ]


def _cost_rows(s: dict[str, Any]) -> list[list[str]]:
    rows = [
        ["device", str(s.get("device"))],
        ["training time", f"{s.get('wall_seconds', 0):.1f} s"],
        ["train tokens", f"{s.get('train_tokens', 0):,}"],
        ["tokens/s", str(s.get("tokens_per_second"))],
        ["peak memory", f"{s.get('peak_memory_bytes', 0) / 2**30:.2f} GiB"],
    ]
    if s.get("predicted_seconds") is not None:
        rows.append(["planned time", f"{s['predicted_seconds']:.1f} s"])
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_card(folder: Path, text: str) -> Path:
    path = folder / "README.md"
    tmp = path.with_name("README.md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

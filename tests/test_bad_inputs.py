"""A corpus of malformed inputs across the verbs: each ends in exit 2, at most 3 lines on stderr, no
traceback, and nothing written that looks complete (a summary, a report, an eval, an export).

Each case is a function of a `Case` (temp folder, tiny model, good data, a finished tiny run) that
prepares what it needs and returns the argv. Cases run the real CLI in this process.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main

# Files whose presence says "this finished": none may appear after a refused command.
COMPLETE = {"summary.json", "eval.json", "eval.md", "report.md", "report.html", "results.jsonl", "Modelfile"}
COMPLETE_SUFFIXES = {".gguf", ".safetensors"}


@dataclass
class Case:
    tmp: Path
    model: Path
    data: Path
    run: Path

    def file(self, name: str, content: str | bytes) -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        return str(path)

    def train(self, *extra: str, data: str | None = None) -> list[str]:
        return ["train", "--model", str(self.model), "--data", data or str(self.data), "--no-progress"] + [
            "--output",
            str(self.tmp / "out"),
            "--max-steps",
            "1",
            *extra,
        ]

    def run_copy(self, *remove: str) -> str:
        """A copy of the finished run with some of its files or folders taken away."""
        copy = self.tmp / "run-copy"
        shutil.copytree(self.run, copy)
        for name in remove:
            target = copy / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        return str(copy)

    def model_folder(self, config: str | None, weights: bool = False) -> str:
        folder = self.tmp / "model"
        folder.mkdir()
        if config is not None:
            (folder / "config.json").write_text(config)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(self.model / name, folder / name)
        if weights:
            shutil.copy(self.model / "model.safetensors", folder / "model.safetensors")
        return str(folder)

    def model_copy(self, chat_template: str) -> str:
        """The tiny model with another chat template."""
        folder = self.tmp / "model-copy"
        shutil.copytree(self.model, folder)
        (folder / "chat_template.jinja").write_text(chat_template)
        return str(folder)

    def sweep(self, sweep: dict | None, **sections) -> str:
        config = {
            "model": {"name": str(self.model)},
            "data": {"path": str(self.data), "max_seq_len": 64},
            "train": {"max_steps": 2},
            **sections,
        }
        if sweep is not None:
            config["sweep"] = sweep
        return self.file("sweep.yaml", yaml.safe_dump(config))


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LATIN1 = '{"instruction": "Caf\xe9?", "output": "Oui"}\n'.encode("latin-1")
# Like Gemma's and Mistral's templates, which raise on a system turn or on roles that do not alternate.
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{{ m['content'] }}{% endfor %}"
)
LLAMA_CONFIG = json.dumps({"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2})
RANK = "method.rank=8"

CASES = {
    # train: data files
    "train/data-missing": lambda c: c.train(data=str(c.tmp / "nope.jsonl")),
    "train/data-extension": lambda c: c.train(data=c.file("faq.txt", "hello\n")),
    "train/jsonl-malformed": lambda c: c.train(data=c.file("bad.jsonl", '{"instruction": "a",\n')),
    "train/jsonl-array": lambda c: c.train(data=c.file("arr.jsonl", "[1, 2]\n")),
    "train/json-not-list": lambda c: c.train(data=c.file("d.json", '{"a": 1}')),
    "train/binary-data": lambda c: c.train(data=c.file("img.jsonl", PNG)),
    "train/latin1-data": lambda c: c.train(data=c.file("latin.jsonl", LATIN1)),
    "train/empty-data": lambda c: c.train(data=c.file("empty.jsonl", "")),
    "train/unknown-format": lambda c: c.train(data=c.file("odd.jsonl", '{"foo": 1}\n' * 8)),
    "train/format-mismatch": lambda c: c.train("data.format=chat"),
    "train/csv-no-columns": lambda c: c.train(data=c.file("d.csv", "a,b\n1,2\n3,4\n")),
    "train/parquet-garbage": lambda c: c.train(data=c.file("d.parquet", b"not parquet at all")),
    "train/saved-dataset-garbage": lambda c: c.train(
        data=c.file("ds/state.json", "{")[: -len("/state.json")]
    ),
    "train/eval-data-missing": lambda c: c.train("--eval-data", str(c.tmp / "nope.jsonl")),
    # train: config
    "train/config-missing": lambda c: c.train(str(c.tmp / "nope.yaml")),
    "train/config-yaml-syntax": lambda c: c.train(c.file("bad.yaml", "train:\n  max_steps: [1,\n")),
    "train/config-not-mapping": lambda c: c.train(c.file("list.yaml", "- a\n- b\n")),
    "train/config-two-files": lambda c: c.train(c.file("a.yaml", "{}"), c.file("b.yaml", "{}")),
    "train/unknown-field": lambda c: c.train("train.learnin_rate=1e-4"),
    "train/wrong-type": lambda c: c.train("train.learning_rate=fast"),
    "train/unknown-section": lambda c: c.train("trainer.max_steps=3"),
    "train/unknown-method": lambda c: c.train("--method", "lorax"),
    "train/zero-seq-len": lambda c: c.train("data.max_seq_len=0"),
    "train/zero-batch": lambda c: c.train("train.micro_batch_size=0"),
    # train: model folders and methods
    "train/model-no-config": lambda c: c.train("--model", c.model_folder(None)),
    "train/model-no-weights": lambda c: c.train("--model", c.model_folder(LLAMA_CONFIG)),
    "train/model-garbage-config": lambda c: c.train("--model", c.model_folder("{not json")),
    "train/model-unknown-type": lambda c: c.train(
        "--model", c.model_folder(json.dumps({"model_type": "no-such-arch"}), weights=True)
    ),
    "train/model-is-a-file": lambda c: c.train("--model", c.file("weights.bin", b"\0" * 64)),
    "train/chat-template-refuses": lambda c: c.train(
        "--model", c.model_copy(NO_SYSTEM_TEMPLATE), "data.system_prompt=Be brief."
    ),
    "train/model-missing-folder": lambda c: c.train("--model", str(c.tmp / "no-model")),
    "train/freeze-more-layers-than-model": lambda c: c.train(
        "--method", "freeze", "method.trainable_layers=9"
    ),
    "train/lora-unknown-target": lambda c: c.train("method.target_modules=no_such_proj"),
    "train/resume-missing-checkpoint": lambda c: c.train("--resume", str(c.tmp / "ckpt")),
    "train/output-is-a-file": lambda c: c.train("--output", c.file("taken", "x")),
    # plan
    "plan/unknown-gpu": lambda c: ["plan", "--model", str(c.model), "--gpu", "gtx9999"],
    "plan/missing-model-folder": lambda c: ["plan", "--model", str(c.tmp / "no-model")],
    "plan/garbage-config": lambda c: ["plan", "--model", c.model_folder("{not json")],
    "plan/unknown-model-type": lambda c: [
        "plan",
        "--model",
        c.model_folder(json.dumps({"model_type": "no-such-arch"}), weights=True),
    ],
    "plan/bad-tokens": lambda c: ["plan", "--model", str(c.model), "--tokens", "lots"],
    "plan/prices-missing": lambda c: ["plan", "--model", str(c.model), "--prices", str(c.tmp / "p.yaml")],
    "plan/prices-malformed": lambda c: [
        "plan",
        "--model",
        str(c.model),
        "--prices",
        c.file("p.yaml", "a: ["),
    ],
    # eval
    "eval/not-a-run": lambda c: ["eval", str(c.tmp)],
    "eval/run-without-adapter": lambda c: ["eval", c.run_copy("adapter")],
    "eval/adapter-without-weights": lambda c: ["eval", c.run_copy("adapter/adapter_model.safetensors")],
    "eval/garbage-adapter-config": lambda c: [
        "eval",
        (lambda r: (Path(r, "adapter", "adapter_config.json").write_text("{"), r)[1])(c.run_copy()),
    ],
    "eval/answers-not-labels": lambda c: ["eval", c.run_copy(), "--labels", "yes,no"],
    "eval/binary-data": lambda c: ["eval", c.run_copy(), "--data", c.file("e.jsonl", PNG)],
    "eval/zero-examples": lambda c: ["eval", c.run_copy(), "--max-examples", "0"],
    # export
    "export/not-a-run": lambda c: ["export", str(c.tmp), "--merge"],
    "export/run-without-adapter": lambda c: ["export", c.run_copy("adapter"), "--merge"],
    "export/unknown-gguf-type": lambda c: ["export", c.run_copy(), "--gguf", "q9_z"],
    "export/adapter-without-weights": lambda c: [
        "export",
        c.run_copy("adapter/adapter_model.safetensors"),
        "--merge",
    ],
    "export/run-garbage-summary": lambda c: [
        "export",
        (lambda r: (Path(r, "summary.json").write_text("{oops"), r)[1])(c.run_copy()),
        "--merge",
    ],
    # compare
    "compare/unknown-strategy": lambda c: (
        ["compare", "--model", str(c.model), "--data", str(c.data)]
        + ["--strategies", "lora,warp", "--output", str(c.tmp / "cmp")]
    ),
    "compare/negative-budget": lambda c: (
        ["compare", "--model", str(c.model), "--data", str(c.data)]
        + ["--budget-steps", "-1", "--output", str(c.tmp / "cmp")]
    ),
    "compare/binary-data": lambda c: (
        ["compare", "--model", str(c.model), "--data", c.file("d.jsonl", PNG)]
        + ["--strategies", "lora", "--budget-steps", "1", "--output", str(c.tmp / "cmp")]
    ),
    # sweep
    "sweep/file-missing": lambda c: ["sweep", str(c.tmp / "nope.yaml")],
    "sweep/no-sweep-section": lambda c: ["sweep", c.sweep(None), "--output", str(c.tmp / "sw")],
    "sweep/empty-space": lambda c: ["sweep", c.sweep({"space": {}}), "--output", str(c.tmp / "sw")],
    "sweep/unknown-space-field": lambda c: [
        "sweep",
        c.sweep({"space": {"train.learnin_rate": {"low": 1e-4, "high": 1e-3, "log": True}}}),
        "--output",
        str(c.tmp / "sw"),
    ],
    "sweep/binary-data": lambda c: [
        "sweep",
        c.sweep({"space": {"method.rank": {"choices": [4, 8]}}}, data={"path": c.file("d.jsonl", PNG)}),
        "--output",
        str(c.tmp / "sw"),
    ],
}


# eval, export (issue 14): a received run folder cannot turn on remote code nor point at a base that is
# not here, --device cuda needs CUDA, and an export never writes into a folder of the user's.
ELSEWHERE = "/home/someone-else/models/tiny"


def _received(c: Case, **model) -> str:
    """A copy of the finished run as someone else's might arrive: its config.yaml's model section changed
    (and, with a new name, the base path summary.json recorded)."""
    copy = Path(c.run_copy())
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["model"].update(model)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    if "name" in model:
        summary = json.loads((copy / "summary.json").read_text())
        summary["model_path"] = model["name"]
        (copy / "summary.json").write_text(json.dumps(summary))
    return str(copy)


def _without_cuda(argv: list[str]) -> list[str]:
    import torch

    if torch.cuda.is_available():
        pytest.skip("--device cuda is accepted on a machine with CUDA")
    return argv


CASES.update(
    {
        "eval/remote-code-asked-by-run": lambda c: ["eval", _received(c, trust_remote_code=True)],
        "export/remote-code-asked-by-run": lambda c: [
            "export",
            _received(c, trust_remote_code=True),
            "--merge",
        ],
        "eval/base-not-on-this-machine": lambda c: ["eval", _received(c, name=ELSEWHERE)],
        "export/base-not-on-this-machine": lambda c: ["export", _received(c, name=ELSEWHERE), "--merge"],
        "eval/device-cuda-without-cuda": lambda c: _without_cuda(["eval", c.run_copy(), "--device", "cuda"]),
        "export/device-cuda-without-cuda": lambda c: _without_cuda(
            ["export", c.run_copy(), "--merge", "--device", "cuda"]
        ),
        "export/output-not-thrifty": lambda c: [
            "export",
            c.run_copy(),
            "--merge",
            "--output",
            str(Path(c.file("mine/notes.txt", "my own notes")).parent),  # export would add merged/ here
        ],
        "export/output-is-a-run-folder": lambda c: ["export", str(c.run), "--merge", "--output", str(c.run)],
    }
)


# Launched jobs: every bad combination is refused by the launching process, before a worker starts.
CASES.update(
    {
        "train/nproc-zero": lambda c: c.train("--nproc", "0"),
        "train/node-rank-past-nnodes": lambda c: c.train("--nnodes", "2", "--node-rank", "2"),
        "train/global-batch-not-a-multiple": lambda c: c.train("train.global_batch_size=6", "--nproc", "2"),
        "train/offload-under-ddp": lambda c: c.train(
            "--nproc", "2", "distributed.strategy=ddp", "distributed.offload=optimizer"
        ),
        "train/offload-on-a-cpu": lambda c: c.train(
            "--nproc", "2", "distributed.strategy=fsdp", "distributed.offload=params"
        ),
        "train/prefix-under-fsdp": lambda c: c.train(
            "--method", "prefix", "--nproc", "2", "distributed.strategy=fsdp"
        ),
        "train/auto-micro-batch-on-under-nproc": lambda c: c.train(
            "--nproc", "2", "train.auto_micro_batch=on"
        ),
        "train/strategy-unknown": lambda c: c.train("--nproc", "2", "distributed.strategy=zero1"),
    }
)


# Preference objectives: bad pairs, bad labels, missing rewards, bad settings (issue 16).
PAIR = '{"prompt": "Q?", "chosen": "yes", "rejected": "no"}\n'
CASES.update(
    {
        "train/pairs-missing-rejected": lambda c: c.train(
            "--objective", "dpo", data=c.file("p.jsonl", PAIR * 3 + '{"prompt": "Q?", "chosen": "yes"}\n')
        ),
        "train/pairs-all-identical": lambda c: c.train(
            "--objective",
            "dpo",
            data=c.file("p.jsonl", '{"prompt": "Q", "chosen": "a", "rejected": "a"}\n' * 4),
        ),
        "train/kto-one-label": lambda c: c.train(
            "--objective",
            "kto",
            data=c.file("k.jsonl", '{"prompt": "Q", "completion": "a", "label": true}\n' * 6),
        ),
        "train/kto-bad-label": lambda c: c.train(
            "--objective",
            "kto",
            data=c.file("k.jsonl", '{"prompt": "Q", "completion": "a", "label": "ok"}\n' * 6),
        ),
        "train/grpo-without-reward": lambda c: c.train("--objective", "grpo"),
        "train/grpo-unknown-reward": lambda c: c.train("--objective", "grpo", "--reward", "nope"),
        "train/dpo-beta-zero": lambda c: c.train("--objective", "dpo", "train.beta=0"),
        "train/dpo-from-scratch": lambda c: c.train("--objective", "dpo", "--method", "scratch"),
        "data/pairs-missing-file": lambda c: [
            "data",
            "pairs",
            str(c.tmp / "nope.jsonl"),
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
    }
)


# thrifty data inspect/clean/select/augment (issue 18): train's file errors, then their own flags.
CASES.update(
    {
        "data/inspect-missing-file": lambda c: [
            "data",
            "inspect",
            str(c.tmp / "nope.jsonl"),
            "--model",
            str(c.model),
        ],
        "data/inspect-binary": lambda c: [
            "data",
            "inspect",
            c.file("img.jsonl", PNG),
            "--model",
            str(c.model),
        ],
        "data/clean-malformed": lambda c: [
            "data",
            "clean",
            c.file("bad.jsonl", '{"instruction": "a",\n'),
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/clean-unknown-format": lambda c: [
            "data",
            "clean",
            c.file("odd.jsonl", '{"foo": 1}\n' * 4),
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/clean-threshold": lambda c: [
            "data",
            "clean",
            str(c.data),
            "-o",
            str(c.tmp / "o.jsonl"),
            "--near-dup",
            "1.5",
        ],
        "data/clean-output-is-input": lambda c: ["data", "clean", str(c.data), "-o", str(c.data)],
        "data/select-empty": lambda c: [
            "data",
            "select",
            c.file("empty.jsonl", ""),
            "--k",
            "1",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/select-k-too-big": lambda c: [
            "data",
            "select",
            str(c.data),
            "--model",
            str(c.model),
            "--k",
            "999",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/select-fraction-zero": lambda c: [
            "data",
            "select",
            str(c.data),
            "--fraction",
            "0",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/select-output-is-input": lambda c: [
            "data",
            "select",
            str(c.data),
            "--k",
            "2",
            "-o",
            str(c.data),
        ],
        "data/augment-no-kind": lambda c: ["data", "augment", str(c.data), "-o", str(c.tmp / "o.jsonl")],
        "data/augment-zero-paraphrases": lambda c: [
            "data",
            "augment",
            str(c.data),
            "--paraphrases",
            "0",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "data/augment-output-is-input": lambda c: [
            "data",
            "augment",
            str(c.data),
            "--synonyms",
            "-o",
            str(c.data),
        ],
        "data/augment-missing-file": lambda c: [
            "data",
            "augment",
            str(c.tmp / "nope.jsonl"),
            "--synonyms",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
        "prune/every-block": lambda c: ["prune", str(c.model), "--layers", "2", "-o", str(c.tmp / "p")],
        "prune/no-layers": lambda c: ["prune", str(c.model), "-o", str(c.tmp / "p")],
        "prune/heads-ratio-one": lambda c: ["prune", str(c.model), "--heads", "1", "-o", str(c.tmp / "p")],
        "prune/every-head": lambda c: ["prune", str(c.model), "--heads", "0.9", "-o", str(c.tmp / "p")],
        "prune/negative-mlp": lambda c: ["prune", str(c.model), "--mlp", "-0.2", "-o", str(c.tmp / "p")],
        "compare/prune-every-head": lambda c: [
            "compare",
            "--model",
            str(c.model),
            "--data",
            str(c.data),
            "--strategies",
            "lora,prune+lora",
            "--prune-heads",
            "0.9",
            "--budget-steps",
            "1",
            "--output",
            str(c.tmp / "cmp"),
        ],
        "prune/binary-calibration": lambda c: [
            "prune",
            str(c.model),
            "--layers",
            "1",
            "--calibration",
            c.file("c.jsonl", PNG),
            "-o",
            str(c.tmp / "p"),
        ],
        "prune/missing-model": lambda c: [
            "prune",
            str(c.tmp / "no-model"),
            "--layers",
            "1",
            "-o",
            str(c.tmp / "p"),
        ],
        "train/unknown-tracker": lambda c: c.train("train.report_to=comet"),
        "train/tracker-none-with-others": lambda c: c.train("train.report_to=[none,wandb]"),
        "train/report-to-mapping": lambda c: c.train("train.report_to={wandb: 1}"),
        # Each fails before the server binds a port: a case that passed would serve forever.
        "ui/non-loopback-without-token": lambda c: ["ui", "--runs", str(c.tmp), "--host", "0.0.0.0"],
        "ui/missing-token-file": lambda c: [
            "ui",
            "--runs",
            str(c.tmp),
            "--host",
            "0.0.0.0",
            "--token-file",
            str(c.tmp / "no-token"),
        ],
        "ui/short-token": lambda c: [
            "ui",
            "--runs",
            str(c.tmp),
            "--host",
            "0.0.0.0",
            "--token-file",
            c.file("token", "short"),
        ],
        "ui/runs-is-a-file": lambda c: ["ui", "--runs", str(c.data)],
        "ui/port-out-of-range": lambda c: ["ui", "--runs", str(c.tmp), "--port", "70000"],
        "data/select-latin1": lambda c: [
            "data",
            "select",
            c.file("l.jsonl", LATIN1),
            "--k",
            "1",
            "-o",
            str(c.tmp / "o.jsonl"),
        ],
    }
)


@pytest.fixture(scope="module")
def finished_run(tiny_model, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    return train_tiny_run(tiny_model, write_faq(root / "faq.jsonl"), root / "run")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_the_corpus_is_large_and_covers_every_verb():
    verbs = {name.split("/")[0] for name in CASES}
    assert len(CASES) >= 30
    assert verbs == {"train", "plan", "eval", "export", "compare", "sweep", "data", "prune", "ui"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(name, tiny_model, finished_run, tmp_path, capsys):
    data = Path(write_faq(tmp_path / "faq.jsonl"))
    case = Case(tmp_path, tiny_model, data, finished_run)
    argv = CASES[name](case)
    before = _files(tmp_path) | _files(finished_run)
    contents = {p: p.read_bytes() for p in before}
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert code == 2, err
    assert len(lines) <= 3, err
    assert lines and lines[-1].startswith("error: "), err
    new = (_files(tmp_path) | _files(finished_run)) - before
    looks_complete = [p for p in new if p.name in COMPLETE or p.suffix in COMPLETE_SUFFIXES]
    assert not looks_complete, looks_complete
    changed = [p for p, content in contents.items() if not p.is_file() or p.read_bytes() != content]
    assert not changed, f"refused, yet changed what the user had: {changed}"

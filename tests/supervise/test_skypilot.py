"""`thrifty launch skypilot` under hostile values: the written YAML's run line, read back by a shell, is the
intended argv; local data is uploaded to a fixed path; the VM installs the thrifty that wrote the task."""

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

import thrifty
from thrifty.cli import build_parser, main
from thrifty.config.args import config_from_args
from thrifty.errors import UserError
from thrifty.supervise.skypilot import skypilot_task

# Each would split, run a command or end the line if the run line were built with " ".join.
HOSTILE = [
    "a b  c",
    "x; touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    'it\'s "quoted"',
    "line one\ntouch {canary}",
    "tab\tand \\ backslash && touch {canary} | cat > {canary} # not a comment",
]


def write(tmp_path: Path, argv: list[str]) -> dict:
    task_file = tmp_path / "task.yaml"
    assert main(["launch", "skypilot", *argv, "--bucket", "s3://bkt/x", "--task", str(task_file)]) == 0
    return yaml.safe_load(task_file.read_text(encoding="utf-8"))


def shell_words(line: str, cwd: Path) -> list[str]:
    """What bash hands the program on the VM: the line run with printf in the program's place."""
    assert line.startswith("thrifty ")
    script = "printf '%s\\0' " + line.removeprefix("thrifty ")
    done = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, check=True)
    return ["thrifty", *done.stdout.decode().split("\0")[:-1]]


def vm_args(words: list[str]):
    """The run line's argv parsed as `thrifty` parses it on the VM (overrides may follow flags)."""
    args, extra = build_parser().parse_known_args(words[1:])
    args.args += extra
    return args


@pytest.mark.parametrize("value", HOSTILE)
def test_run_line_is_the_intended_argv_for_hostile_values(tmp_path, value):
    canary = tmp_path / "canary"
    value = value.format(canary=canary)
    config = tmp_path / "my config; $(id).yaml"
    config.write_text("train:\n  max_steps: 10\n")
    data = tmp_path / f"data {value[:20]}.jsonl".replace("/", "_").replace("\n", "_")
    data.write_text('{"text": "hi"}\n')
    override = f"data.system_prompt={value}"
    task = write(tmp_path, [str(config), override, "--data", str(data), "--model", value])
    expected = [
        "thrifty",
        "run",
        "/thrifty/config.yaml",
        override,
        "--model",
        value,
        "output.dir=/thrifty/run",
        "checkpoint.remote=file:///checkpoints/thrifty-my-config-id",
        "--restarts",
        "20",
        "--no-progress",
        "data.path=/thrifty/data/train.jsonl",
    ]
    run = task["run"]
    assert shlex.split(run) == expected
    assert run == " ".join(shlex.quote(word) for word in expected)  # every value inside its own quotes
    assert shell_words(run, tmp_path) == expected and not canary.exists()  # bash agrees, and ran nothing
    assert task["file_mounts"] == {
        "/checkpoints": {"source": "s3://bkt/x", "mode": "MOUNT"},
        "/thrifty/config.yaml": str(config.resolve()),
        "/thrifty/data/train.jsonl": str(data.resolve()),
    }


def test_data_is_mounted_at_a_fixed_path_and_the_run_reads_the_copy(tmp_path):
    data = tmp_path / "$HOME; rm -rf ~" / "Train Set.JSONL"
    data.parent.mkdir()
    data.write_text('{"text": "hi"}\n')
    saved = tmp_path / "eval folder"  # a save_to_disk folder: no suffix on the VM either
    saved.mkdir()
    task = write(tmp_path, ["data.system_prompt=be brief", "--data", str(data), "--eval-data", str(saved)])
    mounts = task["file_mounts"]
    assert mounts["/thrifty/data/train.jsonl"] == str(data.resolve())
    assert mounts["/thrifty/data/eval"] == str(saved.resolve())
    words = shlex.split(task["run"])
    assert "--data" not in words and "--eval-data" not in words and str(tmp_path) not in task["run"]
    on_vm = config_from_args(vm_args(words)).data
    assert (on_vm.path, on_vm.eval_path, on_vm.system_prompt) == (
        "/thrifty/data/train.jsonl",
        "/thrifty/data/eval",
        "be brief",
    )


@pytest.mark.parametrize("data", ["HuggingFaceH4/no_robots", "s3://bucket/train data.jsonl"])
def test_hub_ids_and_remote_urls_are_passed_on_as_they_are(tmp_path, data):
    task = write(tmp_path, ["--data", data])
    assert list(task["file_mounts"]) == ["/checkpoints"]
    words = shlex.split(task["run"])
    assert words[words.index("--data") + 1] == data
    assert config_from_args(vm_args(words)).data.path == data


def test_the_vm_installs_this_thrifty_from_its_synced_source_tree(tmp_path):
    task = write(tmp_path, [])
    root = Path(thrifty.__file__).resolve().parents[2]
    assert task["workdir"] == str(root) and (root / "pyproject.toml").is_file()
    # pip takes the synced tree as the only candidate and refuses it if its version is not this one.
    assert shlex.split(task["setup"]) == ["pip", "install", ".", f"thrifty=={thrifty.__version__}"]


def test_a_thrifty_without_its_source_tree_is_one_line(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "thrifty"
    package.mkdir(parents=True)
    monkeypatch.setattr(thrifty, "__file__", str(package / "__init__.py"))
    args = build_parser().parse_args(["launch", "skypilot", "--bucket", "s3://bkt/x"])
    with pytest.raises(UserError, match="not on PyPI.*pip install -e"):
        skypilot_task(args)


# --nodes N: one job over N machines. SkyPilot's own variables are expanded by the VM's shell; the
# user's values are not.
NODE_ENV = {"SKYPILOT_NODE_RANK": "1", "SKYPILOT_NUM_NODES": "2", "SKYPILOT_NODE_IPS": "10.0.0.5\n10.0.0.6"}


def run_on_node(run: str, tmp_path: Path) -> list[str]:
    """The argv `thrifty` gets when bash runs the task's `run:` on node 1 of 2 (a stub prints it as JSON)."""
    import json
    import os
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "thrifty"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    stub.chmod(0o755)
    env = {**os.environ, **NODE_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", run], cwd=tmp_path, env=env, capture_output=True, check=True)
    return ["thrifty", *json.loads(done.stdout)]


def after(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


@pytest.mark.parametrize("value", HOSTILE)
def test_nodes_2_runs_one_job_over_skypilots_nodes_and_hostile_values_stay_intact(tmp_path, value):
    canary = tmp_path / "canary"
    value = value.format(canary=canary)
    override = f"data.system_prompt={value}"
    task = write(tmp_path, [override, "--model", value, "--nodes", "2", "--gpus", "A100:4", "--spot"])
    assert task["num_nodes"] == 2 and task["resources"]["accelerators"] == "A100:4"
    words = run_on_node(task["run"], tmp_path)
    assert not canary.exists()  # the shell expanded SkyPilot's variables and ran nothing of the user's
    assert words[:2] == ["thrifty", "run"] and override in words and after(words, "--model") == value
    tail = words[words.index("--nproc") :]
    assert tail == ["--nproc", "4", "--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.5"]
    # What `thrifty run` then starts on this node: `thrifty train` with the same place in the job, resuming.
    from thrifty.supervise.restart import child_command

    args = vm_args(words)
    config = config_from_args(args)
    d = config.distributed
    assert (d.nproc, d.nnodes, d.node_rank, d.master_addr) == (4, 2, 1, "10.0.0.5")
    child = child_command(args, config)
    assert child[child.index("--resume") + 1] == "auto" and after(child, "--node-rank") == "1"


def test_nodes_take_the_gpu_count_per_node_and_the_cluster_decides_the_rest(tmp_path):
    # The user's --nnodes/--node-rank/--master-addr would contradict the cluster; their --nproc is kept.
    task = write(tmp_path, ["--nodes", "3", "--nnodes", "9", "--node-rank", "5", "--master-addr", "x"])
    assert task["num_nodes"] == 3 and task["resources"]["accelerators"] == "A10G:1"
    words = run_on_node(task["run"], tmp_path)
    assert words.count("--nnodes") == 1 and after(words, "--nnodes") == "2"  # $SKYPILOT_NUM_NODES
    assert words.count("--master-addr") == 1 and after(words, "--nproc") == "1"  # A10G:1
    words = run_on_node(write(tmp_path, ["--nodes", "2", "--gpus", "L4", "--nproc", "2"])["run"], tmp_path)
    assert words.count("--nproc") == 1 and after(words, "--nproc") == "2"


def test_one_node_is_todays_task(tmp_path):
    task = write(tmp_path, ["--gpus", "A100:8"])
    assert "num_nodes" not in task and task["resources"]["accelerators"] == "A100:8"
    assert not {"--nnodes", "--nproc", "--master-addr"} & set(shlex.split(task["run"]))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nodes", "2", "--gpus", "A10G:0.5"], "whole number of GPUs"),
        (["--nodes", "0"], "--nodes must be 1 or more"),
    ],
)
def test_bad_node_shapes_are_one_line(tmp_path, argv, message):
    args = build_parser().parse_args(["launch", "skypilot", *argv, "--bucket", "s3://bkt/x"])
    with pytest.raises(UserError, match=message):
        skypilot_task(args)


def test_nodes_without_a_bucket_is_one_line_naming_checkpoint_remote():
    args = build_parser().parse_args(["launch", "skypilot", "--nodes", "2"])
    with pytest.raises(UserError, match="--bucket is needed.*checkpoint.remote"):
        skypilot_task(args)

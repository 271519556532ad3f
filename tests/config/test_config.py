import pytest
import yaml

from thrifty.config import load_config
from thrifty.config.docs import field_rows
from thrifty.config.load import parse_override
from thrifty.config.schema import RunConfig
from thrifty.errors import UserError


def test_defaults_are_valid_and_sensible():
    config = RunConfig()
    assert config.model.name == "smollm2-135m"
    assert config.method.name == "lora" and config.method.target_modules == "all-linear"
    assert config.model.trust_remote_code is False


def test_yaml_then_overrides_win(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train: {learning_rate: 0.001, max_steps: 10}\nmethod: {rank: 4}\n")
    config = load_config(path, ["train.learning_rate=1e-4", "method.target_modules=q_proj,v_proj"])
    assert config.train.learning_rate == pytest.approx(1e-4)  # "1e-4" is a YAML 1.1 string: still a float
    assert config.train.max_steps == 10 and config.method.rank == 4
    assert config.method.target_modules == ["q_proj", "v_proj"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("method.rank=0", "method.rank"),
        ("train.learning_rate=-1", "train.learning_rate"),
        ("train.learning_rat=1", "train.learning_rat"),
        ("method.name=nonsense", "method.name"),
        ("data.max_seq_len=2", "data.max_seq_len"),
    ],
)
def test_invalid_values_name_the_field(override, field):
    with pytest.raises(UserError) as info:
        load_config(None, [override])
    message = str(info.value)
    assert field in message and "\n" not in message


def test_unknown_method_lists_choices():
    with pytest.raises(UserError, match="choose one of: dora, freeze, full, ia3, lora, lora8bit"):
        load_config(None, ["method.name=nonsense"])


def test_early_stopping_needs_eval_interval():
    with pytest.raises(UserError, match="eval_every_steps"):
        load_config(None, ["train.early_stopping_patience=2"])


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  max_steps: 10\n  lr: [1, 2\n")
    with pytest.raises(UserError, match=r"bad\.yaml:\d+"):
        load_config(path)


def test_missing_config_file():
    with pytest.raises(UserError, match="config file not found"):
        load_config("nope.yaml")


def test_override_needs_equals():
    with pytest.raises(UserError, match="section.field=value"):
        parse_override("train.max_steps")


def test_every_field_documented():
    rows = field_rows()
    assert len(rows) > 30
    undocumented = [r["field"] for r in rows if len(r["help"]) < 10]
    assert undocumented == []
    assert {"model.name", "method.rank", "data.path", "data.eval_path", "train.max_steps", "output.dir"} <= {
        r["field"] for r in rows
    }


def test_resolved_config_round_trips(tmp_path):
    from thrifty.config import write_resolved

    config = load_config(None, ["train.max_steps=3", "data.path=x.jsonl"])
    write_resolved(config, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["max_steps"] == 3


def test_validating_a_run_config_imports_no_torch():
    # The method table is data (methods/table.py): `thrifty train --help`-speed validation, no torch.
    import subprocess
    import sys

    code = (
        "import sys; from thrifty.config.load import load_config; "
        "load_config(None, ['method.name=qlora', 'train.max_steps=3']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_schema_table_keeps_bracketed_help_text(capsys):
    """rich reads `[q_proj, v_proj]` as a style tag and drops it unless the cell is escaped."""
    from thrifty.cli import main

    assert main(["config", "schema"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[q_proj, v_proj]" in out and "list[str] | all-linear" in out

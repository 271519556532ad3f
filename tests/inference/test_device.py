"""--device auto|cpu|cuda for eval, generate and export: the choice, the refusal without CUDA, the model
placed where the choice says, and every input batch moved to the model's device. CI has no GPU, so the
CUDA path is followed as far as a CPU allows: a model on `meta` stands in for one on a GPU."""

import pytest
import torch

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.errors import UserError
from thrifty.inference import device as dev


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("device")
    return train_tiny_run(tiny_model, write_faq(root / "faq.jsonl"), root / "run")


def verbs(run, out) -> dict[str, list[str]]:
    return {
        "eval": [
            "eval",
            str(run),
            "--max-examples",
            "2",
            "--max-new-tokens",
            "2",
            "--no-progress",
            "--force",
        ],
        "export": ["export", str(run), "--merge", "--output", str(out / "export")],
        "generate": ["generate", "--adapter", str(run / "adapter"), "--max-new-tokens", "2", "Hi?"],
    }


def test_auto_is_cuda_only_when_torch_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.choose_device("auto") == "cpu" and dev.choose_device("cpu") == "cpu"
    with pytest.raises(UserError, match="--device cuda: torch sees no CUDA GPU") as refused:
        dev.choose_device("cuda")
    assert "\n" not in str(refused.value) and "--device cpu" in str(refused.value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.choose_device("auto") == "cuda" and dev.choose_device("cuda") == "cuda"
    assert dev.choose_device("cpu") == "cpu"  # asked for: the CPU even beside a GPU


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_cuda_without_cuda_is_one_line_before_anything(verb, run, tmp_path, capsys, monkeypatch):
    import thrifty.models.load as load

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(load, "load_model", lambda *a, **k: pytest.fail("loaded a model first"))
    before = sorted(p.name for p in run.rglob("*"))
    capsys.readouterr()
    assert main([*verbs(run, tmp_path)[verb], "--device", "cuda"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--device cuda" in lines[0], lines
    assert sorted(p.name for p in run.rglob("*")) == before and not (tmp_path / "export").exists()


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_each_verb_places_its_model_where_the_choice_says(verb, run, tmp_path, monkeypatch):
    """auto on a machine with CUDA asks for cuda; --device cpu asks for the CPU. `place` is recorded and
    left a no-op, so the verb still runs here (moving to a GPU this machine lacks would fail)."""
    asked: list[str] = []

    def record(model, device):
        asked.append(device)
        return model

    monkeypatch.setattr(dev, "place", record)
    monkeypatch.setattr(dev, "cuda_available", lambda: True)
    assert main(verbs(run, tmp_path)[verb]) == 0
    assert asked and set(asked) == {"cuda"}
    asked.clear()
    assert main([*verbs(run, tmp_path / "cpu")[verb], "--device", "cpu"]) == 0
    assert asked and set(asked) == {"cpu"}


def test_place_moves_a_model_and_leaves_a_placed_one(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert {p.device.type for p in dev.place(model, "meta").parameters()} == {"meta"}

    class Placed(torch.nn.Module):  # what bitsandbytes / a device map leaves: .to() must not be called
        hf_device_map = {"": "cuda:0"}

        def to(self, *args, **kwargs):
            pytest.fail("moved an already placed model")

    placed = Placed()
    assert dev.place(placed, "cuda") is placed


class Stop(Exception):
    pass


class MetaModel(torch.nn.Module):
    """A model whose weights are on `meta` (as a GPU model's are on cuda): it records the device of every
    tensor it is given, then stops, since nothing can be computed on meta."""

    def __init__(self, with_device_attribute: bool):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(2, device="meta"))
        if with_device_attribute:
            self.device = torch.device("meta")  # as transformers' and peft's models have
        self.seen: list[str] = []

    def forward(self, **inputs):
        self.seen += [v.device.type for v in inputs.values() if isinstance(v, torch.Tensor)]
        raise Stop

    generate = forward


@pytest.mark.parametrize("with_device_attribute", [True, False])
def test_batched_generation_moves_its_batch_to_the_models_device(with_device_attribute, tiny_model):
    from transformers import AutoTokenizer

    from thrifty.inference.generate import GenerationOptions, generate_with_counts

    model = MetaModel(with_device_attribute)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.pad_token = tokenizer.eos_token  # as thrifty's loader sets it
    with pytest.raises(Stop):
        generate_with_counts(model, tokenizer, ["short", "a longer prompt"], GenerationOptions())
    assert model.seen and set(model.seen) == {"meta"}


@pytest.mark.parametrize("with_device_attribute", [True, False])
def test_perplexity_moves_its_batches_to_the_models_device(with_device_attribute):
    from thrifty.eval.perplexity import perplexity

    model = MetaModel(with_device_attribute)
    rows = [{"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [-100, 2, 3]}]
    with pytest.raises(Stop):
        perplexity(model, rows, pad_token_id=0)
    assert set(model.seen) == {"meta"} and len(model.seen) == 2  # input_ids and attention_mask


def test_a_run_loads_onto_the_device_asked_for(run):
    """load_tuned puts base and adapter together on the device (meta here, cuda on a GPU)."""
    from thrifty.inference.run_folder import load_tuned, open_run

    model = load_tuned(open_run(run), device="meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert dev.model_device(model).type == "meta"

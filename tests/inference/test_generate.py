import json

from thrifty.cli import main
from thrifty.inference.generate import GenerationOptions, generate, load_for_generation


def test_greedy_generation_is_deterministic_and_batched(tiny_model):
    model, tokenizer = load_for_generation(str(tiny_model))
    options = GenerationOptions(max_new_tokens=6)
    prompts = ["How do I apply?", "What is a demolition permit and when is it needed?"]
    first = generate(model, tokenizer, prompts, options)
    assert first == generate(model, tokenizer, prompts, options)
    # Left padding must not change an answer: the short prompt alone gives the same text as in the batch.
    assert generate(model, tokenizer, prompts[:1], options)[0] == first[0]


def test_generate_cli_with_adapter(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                str(tiny_model),
                "--data",
                str(alpaca_file),
                "--output",
                str(out),
                "--max-steps",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "generate",
                "--model",
                str(tiny_model),
                "--adapter",
                str(out / "adapter"),
                "--max-new-tokens",
                "4",
                "--json",
                "Hello?",
                "Permit?",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["prompt"] for x in lines] == ["Hello?", "Permit?"] and all("answer" in x for x in lines)


def test_sampling_with_seed_is_reproducible(tiny_model, capsys):
    argv = ["generate", "--model", str(tiny_model), "--sample", "--seed", "3", "--max-new-tokens", "8", "Hi"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first


def test_missing_adapter_is_a_user_error(tiny_model, tmp_path, capsys):
    assert main(["generate", "--model", str(tiny_model), "--adapter", str(tmp_path), "Hi"]) == 2
    assert "no adapter_config.json" in capsys.readouterr().err

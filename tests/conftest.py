"""Shared fixtures: tiny random models saved to disk (loaded through the real from_pretrained path), sample data."""

import json
import os
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch a model hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# precision auto would pick bf16-base on CPUs with bf16 instructions: the suite runs alike on every CPU
# kind (tight comparisons are fp32); tests of bf16-base ask for it (tests/test_hardware.py).
os.environ["THRIFTY_CPU_BF16"] = "0"
# trackio reads TRACKIO_DIR once, when first imported (by whichever test gets there first): the suite's
# trackio runs go to a store of its own, never into the user's HF_HOME/trackio.
os.environ["TRACKIO_DIR"] = tempfile.mkdtemp(prefix="thrifty-tests-trackio-")

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CORPUS = [
    "How do I apply for a building permit? Submit the application to the municipality.",
    "What is a demolition permit? It is needed before tearing down a building.",
    "The statutory processing time is ten weeks, with a possible extension.",
    "A notification is enough for small changes such as an attefall house.",
    "Contact the building committee for questions about your property.",
] * 20


def build_tokenizer(chat_template: str | None = CHATML):
    """A real byte-level BPE tokenizer (vocab ~300) trained on a few sentences, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    eos = "<|im_end|>" if chat_template else "<|endoftext|>"
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=eos, bos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    fast.chat_template = chat_template
    return fast


def save_tiny_model(
    folder: Path, chat_template: str | None = CHATML, hidden: int = 32, intermediate: int | None = None
) -> Path:
    """A 2-layer random Llama (hidden 32, MLP 2 x hidden by default) plus tokenizer, saved as safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate or 2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True, scope="session")
def thrifty_home(tmp_path_factory):
    """The whole session uses its own cache, so tests never read or write a user's cache."""
    home = tmp_path_factory.getbasetemp() / "thrifty-home"
    old = os.environ.get("THRIFTY_HOME")
    os.environ["THRIFTY_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("THRIFTY_HOME", None)
    else:
        os.environ["THRIFTY_HOME"] = old


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-chat"))


@pytest.fixture(scope="session")
def tiny_model_wide(tmp_path_factory) -> Path:
    """Hidden 64: wide enough that qlora quantizes every linear (narrower ones stay unquantized)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-wide"), hidden=64)


@pytest.fixture(scope="session")
def tiny_model_plain(tmp_path_factory) -> Path:
    """Same, but without a chat template: exercises the plain prompt template."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-plain"), chat_template=None)


FAQ = [
    {
        "instruction": "How do I apply for a building permit?",
        "input": "",
        "output": "Submit the application to the municipality.",
    },
    {
        "instruction": "What is a demolition permit?",
        "input": "",
        "output": "It is needed before tearing down a building.",
    },
    {
        "instruction": "How long does processing take?",
        "input": "In Sweden.",
        "output": "The statutory processing time is ten weeks.",
    },
    {
        "instruction": "Is a notification enough?",
        "input": "",
        "output": "Yes, for small changes such as an attefall house.",
    },
]


@pytest.fixture
def alpaca_file(tmp_path) -> Path:
    path = tmp_path / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 5))
    return path

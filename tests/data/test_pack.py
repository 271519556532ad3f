"""Packing: one padding-free row per micro-batch gives every example exactly the loss it has alone."""

import pytest
import torch

from thrifty.data.collate import PadCollator
from thrifty.data.pack import PackCollator, padding_share
from thrifty.data.tokenize import IGNORE_INDEX


@pytest.fixture(scope="module")
def model(tiny_model):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa").eval()


@pytest.fixture(scope="module")
def rows():
    generator = torch.Generator().manual_seed(0)
    out = []
    for length in (7, 12, 5, 9):
        ids = torch.randint(3, 250, (length,), generator=generator).tolist()
        half = length // 2  # the first half is "prompt": masked like tokenize.py masks it
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * half + ids[half:]})
    return out


def _token_losses(logits, labels):
    """Per-position loss of predicting labels[t+1] from position t (0 where not learned)."""
    shifted = labels[1:]
    losses = torch.nn.functional.cross_entropy(logits[:-1], shifted.clamp(min=0), reduction="none")
    return losses * (shifted != IGNORE_INDEX)


def test_packed_row_restarts_positions_and_masks_boundaries(rows):
    batch = PackCollator(learned_logits_only=False)(rows)
    lengths = [len(r["input_ids"]) for r in rows]
    assert batch["input_ids"].shape == (1, sum(lengths))
    assert "attention_mask" not in batch  # the masking utilities then read the restarting positions
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    positions = batch["position_ids"][0].tolist()
    assert [positions[s] for s in starts] == [0] * len(rows)
    assert all(batch["labels"][0, s].item() == IGNORE_INDEX for s in starts)  # nothing predicts across


@pytest.mark.parametrize("learned_only", [False, True])
def test_packed_batch_gives_each_example_its_unpacked_loss(model, rows, learned_only):
    with torch.no_grad():
        alone = [
            model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]])).loss.item()
            for r in rows
        ]
        batch = PackCollator(learned_logits_only=learned_only)(rows)
        packed = model(**batch)
        padded = model(**PadCollator(pad_token_id=0)(rows)).loss.item()
    learned = [sum(label != IGNORE_INDEX for label in r["labels"][1:]) for r in rows]
    expected = sum(loss * n for loss, n in zip(alone, learned, strict=True)) / sum(learned)
    assert packed.loss.item() == pytest.approx(expected, rel=1e-5)
    assert packed.loss.item() == pytest.approx(padded, rel=1e-5)
    if learned_only:  # logits only where a label is learned: one row per learned token
        assert packed.logits.shape[0] == sum(learned)
        return
    start = 0  # and example by example, from the packed logits
    for row, loss in zip(rows, alone, strict=True):
        end = start + len(row["input_ids"])
        per_token = _token_losses(packed.logits[0, start:end], torch.tensor(row["labels"]))
        n = sum(label != IGNORE_INDEX for label in row["labels"][1:])
        assert per_token.sum().item() / n == pytest.approx(loss, rel=1e-5)
        start = end


def test_padding_share():
    assert padding_share([4, 2, 3, 3], [2, 2]) == pytest.approx(1 - 12 / 14)
    assert padding_share([4, 2], [2], padded_to=8) == pytest.approx(1 - 6 / 16)
    assert padding_share([], [2]) == 0.0

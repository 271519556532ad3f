"""A reward-model folder as GRPO's judge: a thrifty `--objective reward` run (base + adapter with its
score head, or model/), or any Hugging Face sequence-classification folder with one output."""

from pathlib import Path
from typing import Any

from thrifty.errors import UserError


def reward_model(folder: str, policy_tokenizer: Any) -> tuple[Any, Any]:
    """(model in eval mode, its tokenizer); refused when its tokenizer is not the policy's (TRL would
    re-tokenize the decoded text, but a different vocabulary usually means a reward model trained for
    another base, whose scores say little about this one's answers)."""
    path = Path(folder)
    if (path / "summary.json").is_file() and (path / "config.yaml").is_file():
        from thrifty.inference.run_folder import load_tokenizer_for, load_tuned, open_run

        run = open_run(path)
        if run.config.train.objective != "reward":
            raise UserError(
                f"train.reward {folder}: a {run.config.train.objective} run, not a reward model; train one "
                "with --objective reward"
            )
        model, tokenizer = load_tuned(run), load_tokenizer_for(run)
    else:
        model, tokenizer = _plain_folder(path)
    check_same_tokenizer(tokenizer, policy_tokenizer, folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id  # the score is read at the last non-pad token
    model.requires_grad_(False)
    return model.eval(), tokenizer


def _plain_folder(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (path / "config.json").is_file():
        raise UserError(f"train.reward {path}: no config.json; pass a reward run folder or a model folder")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"train.reward {path}: cannot load a one-score model ({str(exc).splitlines()[0]})"
        ) from None
    return model, AutoTokenizer.from_pretrained(path)


def check_same_tokenizer(reward_tokenizer: Any, policy_tokenizer: Any, folder: str) -> None:
    if reward_tokenizer.get_vocab() != policy_tokenizer.get_vocab():
        raise UserError(
            f"train.reward {folder}: its tokenizer differs from the policy model's ({len(reward_tokenizer)} vs "
            f"{len(policy_tokenizer)} tokens); train the reward model from the same base"
        )

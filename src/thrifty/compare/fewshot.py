"""The `few-shot` strategy of `thrifty compare`: no training; the base model with k training examples in
each prompt, scored on the same held-out answers the trained strategies are scored on.

Its quality is comparable cell for cell: the eval loss is the base model's loss on the same held-out
answer tokens, with the shots as earlier turns (the shots' own tokens are not scored), averaged the way
HF Trainer's evaluate() averages the trained strategies' eval loss (batches of train.micro_batch_size in
order, each batch's per-token mean, then the mean over examples); "eval loss before" is the same base
zero-shot, which is every adapter strategy's "eval loss before" too. Its cost: 0 steps, 0 parameters,
$0 to train, the eval's seconds and measured peak memory; the price moves to inference, where every
query carries the shots (prompt tokens per query, k-shot vs zero-shot, go in the report).
"""

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError
from thrifty.eval.fewshot.pick import DEFAULT_PICK

DEFAULT_K = 4  # shots per prompt: enough to show the answer style, short enough for 512-token prompts


@dataclass(frozen=True)
class FewShotSpec:
    k: int = DEFAULT_K
    pick: str = DEFAULT_PICK

    def digest(self, config: RunConfig) -> str:
        """What a few-shot result depends on (model, data, seed, the loss's batch size, k, pick), so a
        rerun reuses it; not the budget, since nothing trains."""
        keys = {
            "model": config.model.model_dump(mode="json"),
            "data": config.data.model_dump(mode="json"),
            "seed": config.train.seed,
            "micro_batch_size": config.train.micro_batch_size,
            "few_shot": [self.k, self.pick],
        }
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


def check_few_shot(base: RunConfig, pairs: bool, spec: FewShotSpec) -> None:
    """Before anything trains: few-shot can be scored on this data (answers, not pairs or plain text)."""
    from thrifty.data import held_out_examples
    from thrifty.eval.fewshot.build import check_k, check_queries, training_pool

    check_k(spec.k, spec.pick)
    if pairs:
        raise UserError(
            "few-shot is scored on held-out answers, and with a pairs file every strategy is ranked on "
            "preference accuracy; compare few-shot on instruction data (alpaca, chat, ...)"
        )
    held, _, source = held_out_examples(base.data, base.train.seed)
    check_queries(held, source)
    training_pool(base.data, base.train.seed)


def run_few_shot(config: RunConfig, spec: FewShotSpec) -> dict[str, Any]:
    """The strategy's result fields: a summary with the columns the table reads, and the shot counts."""
    from thrifty.data import held_out_examples
    from thrifty.data.tokenize import encode_all
    from thrifty.eval.fewshot.build import build_few_shot, training_pool
    from thrifty.eval.perplexity import loss_to_perplexity
    from thrifty.hardware import peak_memory_bytes, reset_peak_memory
    from thrifty.inference.device import choose_device, place
    from thrifty.models.load import load_model, load_tokenizer
    from thrifty.models.registry import resolve_model

    data, seed = config.data, config.train.seed
    path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(path, config.model)
    held, _, _ = held_out_examples(data, seed)
    # The rows training's evaluate() scores (encode_all is what its cache holds).
    zero, _ = encode_all(held, tokenizer, data.max_seq_len, data.train_on_inputs, data.system_prompt)
    shots = build_few_shot(held, training_pool(data, seed), spec.k, spec.pick, tokenizer, data, seed)
    if not zero or not shots.rows:
        raise UserError(f"{data.eval_path or data.path}: no held-out answer to score within data.max_seq_len")
    model = place(load_model(path, config.model).eval(), choose_device("auto"))
    batch, pad = config.train.micro_batch_size, tokenizer.pad_token_id
    before = trainer_loss(model, zero, pad, batch)
    reset_peak_memory()  # the k-shot pass's own peak
    started = time.perf_counter()
    after = trainer_loss(model, shots.rows, pad, batch)
    seconds = time.perf_counter() - started
    stats = shots.stats.summary()
    print(
        f"compare: few-shot: {stats['shots_per_prompt']:.2f} shots per prompt ({spec.pick}), "
        f"{stats['shortened']} prompts shortened, {stats['truncated']} truncated to data.max_seq_len",
        file=sys.stderr,
    )
    summary = {
        "eval_loss_after": after,
        "perplexity_after": loss_to_perplexity(after),
        "eval_loss_before": before,
        "perplexity_before": loss_to_perplexity(before),
        "trainable_params": 0,
        "steps": 0,
        "train_tokens": 0,
        "wall_seconds": round(seconds, 3),  # the k-shot eval: what this strategy spends instead of training
        "tokens_per_second": None,  # the column is training throughput; nothing trains
        "peak_memory_bytes": peak_memory_bytes(),
        "eval_examples": len(shots.rows),
    }
    return {"summary": summary, "few_shot": {**stats, "max_seq_len": data.max_seq_len}, "loss_curve": []}


def trainer_loss(model: Any, rows: list[dict[str, list[int]]], pad_token_id: int, batch_size: int) -> float:
    """Mean held-out loss as HF Trainer's evaluate() reports it: batches of `batch_size` rows in order,
    each batch's per-token mean (nats), weighted by the examples in it."""
    from thrifty.eval.perplexity import perplexity

    total = 0.0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        total += perplexity(model, chunk, pad_token_id, len(chunk))["loss"] * len(chunk)
    return total / len(rows)


def few_shot_note(record: dict[str, Any]) -> str:
    """The report's line on what few-shot measured and what it moves to inference."""
    fs = record["few_shot"]
    return (
        f"{record['strategy']}: no training (0 steps, $0 to train); the base model with up to {fs['k']} "
        f"training examples ({fs['pick']}) before each held-out question, its eval loss on the same "
        f"answer tokens as the others' (eval loss before: the same base, zero-shot). Inference costs more "
        f"per query: {fs['prompt_tokens_per_query']:.0f} prompt tokens per query instead of "
        f"{fs['zero_shot_prompt_tokens_per_query']:.0f} zero-shot ({fs['prompt_token_ratio']:.1f}x). "
        f"{fs['shortened']} of {fs['prompts']} prompts lost shots and {fs['truncated']} were truncated "
        f"to fit data.max_seq_len={fs['max_seq_len']}."
    )

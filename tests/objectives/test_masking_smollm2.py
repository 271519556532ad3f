"""Prompt masking on real SmolLM2 pairs: TRL tokenizes thrifty's rows with SmolLM2's chat template, and
the tokens the DPO loss reads (completion_mask = 1) are exactly each answer, the prompt never.

The model is a 1-layer random Llama with SmolLM2's vocabulary saved beside SmolLM2's real tokenizer:
tokenization and masking are the tokenizer's and TRL's, and nothing here needs the 135M weights."""

import json

from thrifty.models.registry import pull_model


def test_only_the_answer_tokens_are_learned_on_real_smollm2_pairs(tmp_path):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from thrifty.config.load import load_config
    from thrifty.models.load import load_tokenizer
    from thrifty.objectives import get_objective
    from thrifty.train.trainer import build_model, build_trainer

    real = pull_model("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(real)
    folder = tmp_path / "smollm2-vocab"
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    rows = [
        {"prompt": "How do I apply for a building permit?", "chosen": "Submit it to the municipality.",
         "rejected": "Ask your neighbour."},
        {"prompt": [{"role": "user", "content": "What is a bygglov?"}],
         "chosen": [{"role": "assistant", "content": "A building permit."}],
         "rejected": [{"role": "assistant", "content": "A kind of boat."}]},
    ]  # fmt: skip
    data_file = tmp_path / "pairs.jsonl"
    data_file.write_text("".join(json.dumps(r) + "\n" for r in rows * 2))
    run = load_config(None, [f"model.name={folder}", f"data.path={data_file}", "train.objective=dpo"])
    tok = load_tokenizer(str(folder), run.model)
    data = get_objective("dpo").prepare_data(run.data, tok, 0)
    trainer, _ = build_trainer(
        build_model(str(folder), run), data, run, None, "fp32", tmp_path, False, tokenizer=tok
    )
    for i, pair in enumerate(data.train):
        batch = trainer.data_collator([trainer.train_dataset[i]])
        ids, mask = batch["input_ids"], batch["completion_mask"]
        for side, row in zip(("chosen", "rejected"), range(2), strict=True):
            learned = tok.decode(ids[row][mask[row] == 1])
            prompt = tok.decode(ids[row][(mask[row] == 0) & (batch["attention_mask"][row] == 1)])
            answer = pair[side] if isinstance(pair[side], str) else pair[side][0]["content"]
            assert learned.startswith(answer), (learned, answer)  # the answer, then the end-of-turn
            assert learned[len(answer) :].strip() in ("<|im_end|>", "<|im_end|>\n", tok.eos_token)
            question = pair["prompt"] if isinstance(pair["prompt"], str) else pair["prompt"][-1]["content"]
            assert question in prompt and answer not in prompt
            assert prompt.rstrip().endswith("assistant")  # SmolLM2's template opens the answer's turn

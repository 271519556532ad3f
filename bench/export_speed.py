"""Greedy generation speed of an exported run: transformers on the merged fp32 model (the baseline) against
llama.cpp on each GGUF in RUN/export/gguf, same prompts, same token budget, measured in one process.

    python bench/export_speed.py RUN [--tokens 64] [--repeats 2]

Prints tokens/s and the ratio to the baseline for each; file sizes too. Needs
`thrifty export RUN --merge --gguf f16,q8_0,q4_k_m` first.
"""

import argparse
import time
from pathlib import Path

import torch

PROMPTS = [
    "How do I apply for a building permit?",
    "What is a demolition permit?",
    "What is the capital of France?",
]


def prompt_ids(tokenizer) -> list[list[int]]:
    from thrifty.data.template import render_prompt

    texts = [render_prompt([{"role": "user", "content": p}], tokenizer) for p in PROMPTS]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def hf_speed(model, prompts: list[list[int]], tokens: int) -> float:
    generated, started = 0, time.perf_counter()
    for ids in prompts:
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]), max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False
            )
        generated += out.shape[1] - len(ids)
    return generated / (time.perf_counter() - started)


def llama_speed(llm, prompts: list[list[int]], tokens: int) -> float:
    generated, started = 0, time.perf_counter()
    for ids in prompts:
        for n, _ in enumerate(llm.generate(ids, top_k=1, temp=0.0, reset=True), start=1):
            if n == tokens:
                break
        generated += tokens
    return generated / (time.perf_counter() - started)


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thrifty.export.llama_cpp_tools import open_gguf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--tokens", type=int, default=64, help="Tokens generated per prompt.")
    parser.add_argument("--repeats", type=int, default=2, help="Rounds; the best of each is kept.")
    args = parser.parse_args()
    merged = args.run / "export" / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    prompts = prompt_ids(tokenizer)
    hf = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    ggufs = sorted((args.run / "export" / "gguf").glob("*.gguf"))
    llms = {p.name: open_gguf(p, n_ctx=512, n_threads=2, verbose=False) for p in ggufs}
    best: dict[str, float] = {}
    for _ in range(args.repeats):  # interleaved, so a busy moment on a shared machine hits every candidate
        best["transformers fp32"] = max(best.get("transformers fp32", 0), hf_speed(hf, prompts, args.tokens))
        for name, llm in llms.items():
            best[name] = max(best.get(name, 0), llama_speed(llm, prompts, args.tokens))
    base = best["transformers fp32"]
    sizes = {p.name: p.stat().st_size for p in ggufs}
    sizes["transformers fp32"] = sum(f.stat().st_size for f in merged.glob("*.safetensors"))
    print(f"{'model':28} {'tokens/s':>9} {'x baseline':>10} {'MB':>8}")
    for name, speed in best.items():
        print(f"{name:28} {speed:9.1f} {speed / base:10.2f} {sizes[name] / 1e6:8.0f}")


if __name__ == "__main__":
    main()

"""Does packing beat dynamic padding on this machine? Same batches, interleaved, one process.

SmolLM2-135M with the demo's LoRA; for each of N random batches of 8 FAQ examples, one forward+backward
with thrifty's PackCollator (one padding-free row, logits only where learned) and one with PadCollator
(dynamic padding, all logits), alternating which goes first. Prints real tokens/s per batch and the
median ratio. Usage: python bench/packing_cpu.py [--batches 6]
"""

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="Random batches of 8 examples to time.")
    args = parser.parse_args()

    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.config import load_config
    from thrifty.data import prepare_data
    from thrifty.data.collate import PadCollator
    from thrifty.data.pack import PackCollator
    from thrifty.demo import DEMO_CONFIG
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.train.trainer import build_model

    config = load_config(DEMO_CONFIG, [])
    path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(path, config.model)
    rows = prepare_data(config.data, tokenizer, config.train.seed).train
    model = build_model(path, config)
    model.train()
    ways = {"packed": PackCollator(learned_logits_only=True), "padded": PadCollator(tokenizer.pad_token_id)}
    rng = random.Random(0)
    ratios = []
    for i in range(args.batches):
        batch_rows = rng.sample(rows, 8)
        real = sum(len(r["input_ids"]) for r in batch_rows)
        speed = {}
        for name in list(ways) if i % 2 == 0 else list(reversed(ways)):
            batch = {**ways[name](batch_rows), "use_cache": False}
            start = time.perf_counter()
            model(**batch).loss.backward()
            model.zero_grad(set_to_none=True)
            speed[name] = real / (time.perf_counter() - start)
        ratios.append(speed["packed"] / speed["padded"])
        print(
            f"batch {i}: {real} real tokens, packed {speed['packed']:.1f} / padded {speed['padded']:.1f} tokens/s"
        )
    print(f"ratio packed/padded: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()

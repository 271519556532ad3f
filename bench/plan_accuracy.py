"""How close is `thrifty plan`'s peak memory to what training really takes on this CPU?

For each configuration a fresh subprocess loads the model, applies the method and runs two
optimizer steps on fixed-size batches; its peak RSS growth over the RSS before loading is the
measurement. The planner predicts the same configuration with device=cpu. Prints one row per
configuration and a final worst-case error line.

The loss head is computed as training computes it: chunked (thrifty.models.chunked_loss, the default
of train.chunked_loss), or plain (the model's own head and cross-entropy) in the rows marked so. The
big-vocabulary rows (`big`: Gemma 3's 262k words, Qwen2.5's 151k) build catalog architectures with
seeded random weights (no download) and show what the chunked loss saves at 1,024 tokens.

Usage: .venv/bin/python bench/plan_accuracy.py [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# (label, model, method, micro_batch, seq_len, gradient_checkpointing, chunked loss)
CONFIGS = [
    ("tiny lora b64 s512", "tiny", "lora", 64, 512, False, True),
    ("tiny full b64 s512", "tiny", "full", 64, 512, False, True),
    ("smol lora b4 s128", "smollm2-135m", "lora", 4, 128, False, True),
    ("smol lora b8 s128", "smollm2-135m", "lora", 8, 128, False, True),
    ("smol lora b8 s128 plain", "smollm2-135m", "lora", 8, 128, False, False),
    ("smol lora b2 s512", "smollm2-135m", "lora", 2, 512, False, True),
    ("smol lora b8 s128 ckpt", "smollm2-135m", "lora", 8, 128, True, True),
    ("smol lora b4 s256 ckpt", "smollm2-135m", "lora", 4, 256, True, True),
    ("smol full b4 s128", "smollm2-135m", "full", 4, 128, False, True),
    ("smol qlora b4 s128", "smollm2-135m", "qlora", 4, 128, False, True),
    ("big gemma-3-1b lora b1 s1024", "catalog:gemma-3-1b", "lora", 1, 1024, False, True),
    ("big gemma-3-1b lora b1 s1024 plain", "catalog:gemma-3-1b", "lora", 1, 1024, False, False),
    ("big qwen2.5-0.5b lora b1 s1024", "catalog:qwen2.5-0.5b", "lora", 1, 1024, False, True),
    ("big qwen2.5-0.5b lora b1 s1024 plain", "catalog:qwen2.5-0.5b", "lora", 1, 1024, False, False),
]
QUICK = {"tiny lora b64 s512", "smol lora b4 s128", "smol lora b8 s128 ckpt"}


def worker(model_path: str, method: str, batch: int, seq: int, ckpt: bool, chunked: bool) -> None:
    """Runs in the subprocess: prints the peak RSS growth (bytes) of two training steps."""
    import resource

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    def rss_now() -> int:
        return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss_now()
    kwargs = {"dtype": torch.float32}
    if method == "qlora":
        kwargs.update(
            device_map="cpu",
            quantization_config=BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.float32,
            ),
        )
    if model_path.startswith("catalog:"):  # an architecture from the planner's catalog, random weights
        from thrifty.plan.architecture import resolve_config

        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(
            resolve_config(model_path.removeprefix("catalog:")), **kwargs
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if method != "full":
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if method == "qlora":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=ckpt)
        model = get_peft_model(
            model,
            LoraConfig(
                r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
            ),
        )
    model.train()
    if chunked:
        from thrifty.models.chunked_loss import install

        assert install(model), f"{model.config.model_type}: the chunked loss does not know it"
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    for _ in range(2):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"growth": peak - before}))


def measure(model_path: str, method: str, batch: int, seq: int, ckpt: bool, chunked: bool = True) -> int:
    cmd = [sys.executable, __file__, "--worker", model_path, method, str(batch), str(seq), str(int(ckpt))]
    cmd.append(str(int(chunked)))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["growth"]


def predict(model_path: str, method: str, batch: int, seq: int, ckpt: bool, chunked: bool = True) -> int:
    from thrifty.config.schema import MethodConfig
    from thrifty.plan.planner import PlanRequest, make_plan

    req = PlanRequest(
        model=model_path.removeprefix("catalog:"),
        chunked_loss=chunked,
        method=MethodConfig(name=method, rank=16),
        seq_len=seq,
        micro_batch=batch,
        precision="fp32",
        gradient_checkpointing=ckpt,
        device="cpu",
        attention="flash",
        tokens=1000,
    )
    return make_plan(req)["peak_memory_bytes"]


def tiny_model(folder: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import save_tiny_model

    return str(save_tiny_model(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description="Planner peak memory vs measured RSS growth on this CPU.")
    parser.add_argument("--quick", action="store_true", help="Three configurations only (~1 minute).")
    parser.add_argument("--only", help="Run only configurations whose label contains this text.")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, method, batch, seq, ckpt, chunked = args.worker
        return worker(model, method, int(batch), int(seq), ckpt == "1", chunked == "1")

    from thrifty.models.registry import pull_model
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"tiny": tiny_model(Path(tmp) / "tiny"), "smollm2-135m": str(pull_model("smollm2-135m"))}
        worst = 0.0
        print(f"{'configuration':28} {'predicted MiB':>14} {'measured MiB':>13} {'error':>7}")
        for label, model, method, batch, seq, ckpt, chunked in CONFIGS:
            if (args.quick and label not in QUICK) or (args.only and args.only not in label):
                continue
            path = paths.get(model, model)
            predicted = predict(path, method, batch, seq, ckpt, chunked)
            measured = measure(path, method, batch, seq, ckpt, chunked)
            error = predicted / measured - 1
            worst = max(worst, abs(error))
            print(f"{label:28} {predicted / 2**20:14.0f} {measured / 2**20:13.0f} {error:+7.1%}", flush=True)
        print(f"worst-case error: {worst:.1%}")


if __name__ == "__main__":
    main()

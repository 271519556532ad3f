"""`make demo`: fine-tune the bundled SmolLM2-135M on the bundled FAQ and show held-out before/after."""

from pathlib import Path

DEMO_CONFIG = Path(__file__).parent / "configs" / "smollm2-135m_lora_faq.yaml"


def add_parser(verbs) -> None:
    demo = verbs.add_parser(
        "demo", help="Fine-tune the bundled SmolLM2-135M on the bundled FAQ; show before/after."
    )
    demo.add_argument("--output", default="runs/demo", help="Run directory.")
    demo.add_argument("--max-steps", type=int, help="Override the demo's step count.")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    run_demo(output=args.output, max_steps=args.max_steps)
    return 0


def run_demo(output: str = "runs/demo", max_steps: int | None = None) -> dict:
    from thrifty.config import load_config
    from thrifty.data.template import render_prompt
    from thrifty.inference.generate import GenerationOptions, generate_from_text
    from thrifty.report import print_before_after, print_run_summary
    from thrifty.train.run import train

    overrides = [f"output.dir={output}", "output.overwrite=true"]
    if max_steps:
        overrides.append(f"train.max_steps={max_steps}")
    result = train(load_config(DEMO_CONFIG, overrides))
    print_run_summary(result.summary, result.run_dir)

    # One held-out question, answered greedily by the base model (adapter off) and the fine-tuned one.
    example = result.data.eval_examples[0]["messages"]
    question, reference = example[-2]["content"], example[-1]["content"]
    prompt = render_prompt(example[:-1], result.tokenizer)
    options = GenerationOptions(max_new_tokens=80)
    model = result.model.eval()
    with model.disable_adapter():
        base = generate_from_text(model, result.tokenizer, [prompt], options)[0]
    tuned = generate_from_text(model, result.tokenizer, [prompt], options)[0]
    print_before_after(result.summary, question, base, tuned, reference)
    print(
        f"adapter: {result.run_dir / 'adapter'}  (try: thrifty generate --adapter {result.run_dir / 'adapter'} "
        f'"{question}")'
    )
    return {"summary": result.summary, "base_answer": base, "tuned_answer": tuned}

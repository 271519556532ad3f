"""`thrifty data pairs`: DPO pairs from an SFT file. chosen = the file's reference answer, rejected = what
the model answers itself (greedy unless sampling), so preference tuning moves the model from its own
habits towards the references. Resumable: see thrifty.curate.resume for the files and their protocol.

Examples go in input order in batches of --batch-size; a pair whose generated answer equals the reference
(after strip) carries no preference and is skipped and counted. Output rows are what
thrifty.data.preference reads: {prompt, chosen, rejected}, the prompt as the user's text for a single
user turn of alpaca/prompt_completion data, else (chat, sharegpt, a system turn) as the messages before
the last assistant turn.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thrifty.curate.resume import (
    JobFiles,
    Progress,
    check_start,
    commit,
    finish,
    input_hash,
    reopen,
    start_fresh,
)
from thrifty.errors import UserError

DEFAULT_MODEL = "smollm2-135m"
CHAT_FORMATS = ("chat", "sharegpt")  # their prompts stay messages in the output


@dataclass
class PairsOptions:
    data: str
    output: str
    model: str = DEFAULT_MODEL  # bundled name, hub id, model folder, run folder or adapter folder
    format: str = "auto"
    sample: bool = False
    temperature: float = 0.7
    seed: int = 0  # with sample: batch k is seeded seed + its first example's index, so a resume repeats it
    max_new_tokens: int = 128
    batch_size: int = 8
    limit: int | None = None  # the first N examples only
    system_prompt: str | None = None  # for generation; default: a run folder's data.system_prompt
    overwrite: bool = False
    trust_remote_code: bool = False
    device: str = "auto"
    progress: bool = True


@dataclass
class PairsResult:
    output: str
    examples: int  # examples this job covers (after --limit)
    rows_written: int
    skipped_equal: int
    resumed_from: int  # examples already done by an earlier, interrupted run
    seconds: float  # this invocation's wall time
    complete: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Source:
    """One input example: what the model is asked, and the reference answer it is compared with."""

    messages: list[dict[str, str]]  # the conversation before the last assistant turn
    reference: str
    prompt: Any  # the output row's prompt: a string or the messages


def check_options(options: PairsOptions) -> None:
    for flag, value in (
        ("--batch-size", options.batch_size),
        ("--max-new-tokens", options.max_new_tokens),
        ("--limit", options.limit),
    ):
        if value is not None and value < 1:
            raise UserError(f"{flag} {value}: must be a positive whole number")
    if options.temperature <= 0:
        raise UserError(f"--temperature {options.temperature}: must be above 0")


def load_sources(path: str, fmt: str, limit: int | None) -> tuple[list[Source], str]:
    """The examples of `path` (any instruction format thrifty trains on) as prompts and references."""
    from thrifty.config.schema import DataConfig
    from thrifty.data import load_examples

    examples, detected = load_examples(path, DataConfig(format=fmt))
    if detected == "text":
        raise UserError(
            f"{path}: plain text has no reference answers to pair; use an instruction format "
            "(alpaca, chat, sharegpt, prompt_completion)"
        )
    sources = []
    for example in examples[:limit]:
        messages = example["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        before = messages[:last]
        single_user = len(before) == 1 and before[0]["role"] == "user"
        prompt = before[0]["content"] if single_user and detected not in CHAT_FORMATS else before
        sources.append(Source(before, messages[last]["content"], prompt))
    return sources, detected


def job_settings(options: PairsOptions, fmt: str, digest: str) -> dict[str, Any]:
    """What decides every row's content: a resumed job must match these. --batch-size and --limit are
    left out (a rerun may take bigger batches or go further); temperature and seed count when sampling."""
    model = Path(options.model).expanduser()
    settings: dict[str, Any] = {
        "input_sha256": digest,
        "format": fmt,
        "model": str(model.resolve()) if model.is_dir() else options.model,
        "sample": options.sample,
        "max_new_tokens": options.max_new_tokens,
        "system_prompt": options.system_prompt,
    }
    if options.sample:
        settings.update(temperature=options.temperature, seed=options.seed)
    return settings


def build_pairs(options: PairsOptions) -> PairsResult:
    """Check everything (input, flags, output state, model) before writing anything, then generate."""
    from thrifty.data.readers import check_readable, resolve_data_path

    started = time.perf_counter()
    check_options(options)
    check_readable(options.data)
    sources, fmt = load_sources(options.data, options.format, options.limit)
    files = JobFiles.for_output(options.output)
    settings = job_settings(options, fmt, input_hash(resolve_data_path(options.data)))
    progress = check_start(files, settings, options.overwrite)
    if progress is not None and progress.done > len(sources):
        raise UserError(
            f"{files.partial} already covers {progress.done} examples, more than the {len(sources)} asked "
            "for now (--limit); rerun with the earlier --limit or more, or pass --overwrite"
        )
    model, tokenizer, system = load_generator(options)
    if progress is None:
        start_fresh(files)
    progress = progress or Progress()
    resumed_from = progress.done
    if resumed_from:
        print(f"pairs: resuming after {resumed_from} of {len(sources)} examples", file=sys.stderr)
    complete = run_batches(files, sources, settings, progress, (model, tokenizer, system), options)
    if complete:
        finish(files)
    return PairsResult(
        output=str(files.output if complete else files.partial),
        examples=len(sources),
        rows_written=progress.written,
        skipped_equal=progress.skipped,
        resumed_from=resumed_from,
        seconds=round(time.perf_counter() - started, 3),
        complete=complete,
    )


def run_batches(
    files: JobFiles, sources: list[Source], settings, progress: Progress, generator, options
) -> bool:
    """Generate and commit batch after batch; True when every example is done. SIGTERM/SIGINT let the
    current batch finish and be committed, then stop (a second signal exits at once)."""
    from tqdm import tqdm

    from thrifty.curate.stopping import stop_on_signals

    bar = tqdm(
        total=len(sources), initial=progress.done, desc="pairs", unit="example", disable=not options.progress
    )
    then = "finishing this batch; rerun the same command to continue"
    try:
        with stop_on_signals("pairs", then) as stop, reopen(files, progress) as handle:
            while progress.done < len(sources) and stop.reason is None:
                batch = sources[progress.done : progress.done + options.batch_size]
                lines = answer_batch(batch, progress, generator, options)
                progress.done += len(batch)
                commit(files, handle, lines, progress, settings)
                bar.update(len(batch))
                bar.set_postfix(written=progress.written, skipped=progress.skipped)
    finally:
        bar.close()
    return progress.done >= len(sources)


def answer_batch(batch: list[Source], progress: Progress, generator, options: PairsOptions) -> list[str]:
    """The batch's output lines; counts written and skipped rows into `progress`."""
    import torch

    from thrifty.data.template import render_prompt, with_system
    from thrifty.inference import generate as gen

    model, tokenizer, system = generator
    texts = [render_prompt(with_system(s.messages, system), tokenizer) for s in batch]
    if options.sample:
        torch.manual_seed(options.seed + progress.done)
    answers = gen.generate_from_text(model, tokenizer, texts, generation_options(options, system))
    lines = []
    for source, answer in zip(batch, answers, strict=True):
        if answer.strip() == source.reference.strip():
            progress.skipped += 1
            continue
        row = {"prompt": source.prompt, "chosen": source.reference, "rejected": answer}
        lines.append(json.dumps(row, ensure_ascii=False))
        progress.written += 1
    return lines


def generation_options(options: PairsOptions, system: str | None):
    from thrifty.inference.generate import GenerationOptions

    return GenerationOptions(
        max_new_tokens=options.max_new_tokens,
        do_sample=options.sample,
        temperature=options.temperature,
        system_prompt=system,
    )


def load_generator(options: PairsOptions):
    """(model, tokenizer, system prompt) for --model, as thrifty.curate.generator loads it."""
    from thrifty.curate.generator import load_generator as load

    return load(options.model, options.device, options.trust_remote_code, options.system_prompt)

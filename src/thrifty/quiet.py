"""Silence library chatter that says nothing to a user (progress bars we replace, harmless warnings)."""

import logging
import os
import warnings


def quiet_libraries() -> None:
    """Call once before importing transformers/peft/datasets in a CLI process."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # bitsandbytes logs that an optional hub kernel is missing; the CPU path works without it.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    # DeepSpeed's logger writes to stdout (which a --json verb keeps for its JSON) and sets its own level
    # when imported; a filter on the logger survives that: only its errors get through.
    logging.getLogger("DeepSpeed").addFilter(lambda record: record.levelno >= logging.ERROR)
    warnings.filterwarnings("ignore", message=".*kernels.*")
    # peft still calls transformers names renamed for v6 (gradient -> activation checkpointing).
    warnings.filterwarnings(
        "ignore", message=".*deprecated and will be removed in v6.*", category=FutureWarning
    )
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

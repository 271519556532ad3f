"""The trainer a run trains with: the model adapted and placed, the speed choices made once (compile,
collator, micro-batch), the arguments, and thrifty's callbacks. Which trainer class (HF Trainer, TRL's
DPOTrainer, ...) and which arguments class is the objective's choice (thrifty.objectives)."""

import sys
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.data import PreparedData
from thrifty.hardware import device_name


def build_model(model_path: str, config: RunConfig, precision: str = "fp32", load=None) -> Any:
    """Load the base the way the method needs it (weights, 4/8-bit, or random) and adapt it.
    precision bf16-base loads the base in bf16; peft keeps the adapter weights it adds in fp32. `load`:
    instead of `models.load.load_model` (same arguments), e.g. `train.reuse.Preloaded.load_model`."""
    import torch

    from thrifty.config.objectives import OBJECTIVES
    from thrifty.methods import get_method
    from thrifty.models.load import load_model

    method = get_method(config.method.name)
    head = OBJECTIVES[config.train.objective].head
    torch.manual_seed(config.train.seed)  # random init, the reward head and adapter init follow the seed
    model_config = config.model
    if precision == "bf16-base":
        model_config = model_config.model_copy(update={"dtype": "bfloat16"})
    base = (load or load_model)(model_path, model_config, method.quantization, method.random_init, head)
    if config.train.gradient_checkpointing:
        base.config.use_cache = False
    return method.apply(base, config.method)


def prepare_speed(model, tokenizer, data: PreparedData, config: RunConfig, saved: dict[str, Any]):
    """Order the rows (data.order), compile (when it helps), build the collator, and pick the micro-batch
    (when asked); returns the config the trainer runs with, the collator, the state a resume needs to
    replay the same batches, and the data in the order it trains."""
    from thrifty.distributed.rank import launched
    from thrifty.objectives import get_objective
    from thrifty.train.speed import choose_micro_batch, chunk_loss, compile_model, make_collator

    device = device_name()
    data, order_state = ordered_data(model, data, config, saved, device)
    compile_model(model, config.train.compile, device)
    if not get_objective(config.train.objective).thrifty_batches:
        # The trainer brings its own collator; nothing is packed and thrifty's micro-batch search, which
        # measures thrifty's batches, does not apply (the summary then says packing: false).
        data_config = config.data.model_copy(update={"packing": False})
        return config.model_copy(update={"data": data_config}), None, {}, data
    collate = make_collator(config, tokenizer, device)
    chunk_loss(model, config, device)
    if launched():  # the search measures one device alone; every rank must keep the same micro-batch
        config = config.model_copy(
            update={"train": config.train.model_copy(update={"auto_micro_batch": "off"})}
        )
    config, state = choose_micro_batch(model, data.train, collate, config, saved, device)
    return config, collate, {**state, **order_state}, data


def ordered_data(model, data: PreparedData, config: RunConfig, saved: dict[str, Any], device: str):
    """data.order applied to a copy of the data (a sweep's preloaded data stays as it was) and the order
    to checkpoint. Scored on the training device, where the base model would be placed anyway."""
    from dataclasses import replace

    from thrifty.curate.order import ordered_rows
    from thrifty.curate.score import model_fingerprint
    from thrifty.models.registry import resolve_model
    from thrifty.train.autobatch import place_model

    if config.data.order == "shuffle":
        return data, {}
    fingerprint = ""  # length order scores nothing
    if config.data.order == "curriculum":
        place_model(model, device)
        fingerprint = model_fingerprint(resolve_model(config.model.name))
    rows, state = ordered_rows(model, data.train, config.data.order, saved, fingerprint)
    return replace(data, train=rows, train_lengths=[]), state


def build_trainer(
    model,
    data: PreparedData,
    config: RunConfig,
    collate,
    precision: str,
    run_dir: Path,
    progress,
    strategy: str = "single",
    tokenizer=None,
):
    """The objective's trainer and the callback that keeps metrics.jsonl (its `history` is what was logged)."""
    from transformers import EarlyStoppingCallback
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_callback import ProgressCallback as HFProgress

    from thrifty.objectives import get_objective
    from thrifty.train.callbacks import MetricsCallback, ProgressCallback

    t = config.train
    objective = get_objective(t.objective)
    if strategy == "fsdp" and device_name() == "cpu":
        from thrifty.distributed import cpu_fsdp

        cpu_fsdp.enable()
    args_class, objective_args = objective.arguments(config)
    args = training_arguments(config, precision, run_dir, strategy, args_class, objective_args)
    one_device(args)
    metrics = MetricsCallback(run_dir / "metrics.jsonl")
    callbacks = [metrics] + ([ProgressCallback()] if progress else [])
    if t.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    if t.max_minutes:
        from thrifty.train.callbacks import TimeLimitCallback

        callbacks.append(TimeLimitCallback(t.max_minutes * 60))
    if precision == "bf16-base":
        from thrifty.train.callbacks import Bf16ActivationsCallback

        callbacks.append(Bf16ActivationsCallback())
    trainer = objective.build(model, args, data, collate, tokenizer, callbacks, config=config)
    trainer.remove_callback(PrinterCallback)  # it prints raw dicts; metrics.jsonl and our bar replace it
    trainer.remove_callback(HFProgress)
    return trainer, metrics


def training_arguments(
    config: RunConfig,
    precision: str,
    run_dir: Path,
    strategy: str = "single",
    args_class: type | None = None,
    objective_args: dict[str, Any] | None = None,
):
    """The run's TrainingArguments, built as `args_class` (a subclass such as TRL's DPOConfig) with the
    objective's own fields: every thrifty setting below is passed explicitly, so a subclass's different
    defaults (DPOConfig: bf16 on, lr 1e-6, checkpointing on) never leak into a run."""
    from transformers import TrainingArguments

    from thrifty.distributed.strategy import training_kwargs
    from thrifty.train.speed import trainer_kwargs
    from thrifty.train.trackers import PROJECT, tracker_run_name

    t = config.train
    kwargs = {
        "activation_checkpointing": t.gradient_checkpointing,
        "activation_checkpointing_kwargs": {"use_reentrant": False} if t.gradient_checkpointing else None,
        **trainer_kwargs(config, device_name()),
        **training_kwargs(config, strategy, device_name()),  # a launched run's DDP/FSDP/DeepSpeed settings
        **(objective_args or {}),
    }
    fields = dict(
        output_dir=str(run_dir / "trainer"),
        max_steps=t.max_steps or -1,
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.micro_batch_size,
        per_device_eval_batch_size=t.micro_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        max_grad_norm=t.max_grad_norm,
        optim=t.optimizer,
        bf16=precision in ("bf16", "bf16-base"),  # bf16-base: autocast over a base already in bf16
        fp16=precision == "fp16",
        use_cpu=device_name() == "cpu",
        train_sampling_strategy=sampling_strategy(config),
        eval_strategy="steps" if t.eval_every_steps else "no",
        eval_steps=t.eval_every_steps,
        metric_for_best_model="eval_loss" if t.early_stopping_patience else None,
        greater_is_better=False,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="no",
        seed=t.seed,
        data_seed=t.seed,
        # train.report_to: the Trainer's own integrations; thrifty.train.trackers points them into the run
        report_to=t.report_to or "none",
        run_name=tracker_run_name(run_dir),  # one name in every tracker, kept by a resume
        project=PROJECT,  # trackio's project (wandb's and MLflow's come from the environment)
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    fields.update(kwargs)  # the objective's own fields last: KTO must read its rows in order
    return (args_class or TrainingArguments)(**fields)


def sampling_strategy(config: RunConfig) -> str:
    """data.order other than shuffle has put the rows in order already: read them as they are."""
    if config.data.order != "shuffle":
        return "sequential"
    return "group_by_length" if config.train.group_by_length else "random"


def one_device(args) -> None:
    """One process trains on one device. With several GPUs visible and no launcher, HF Trainer would wrap
    the model in nn.DataParallel, which splits each batch along dim 0: a packed [1, T] row cannot be
    split and the one-dimensional shifted labels would be cut apart from their rows. Several GPUs are
    used by launching one process per GPU (accelerate/torchrun), never by DataParallel."""
    from transformers.training_args import ParallelMode

    visible = args.n_gpu
    if visible > 1 and args.parallel_mode == ParallelMode.NOT_DISTRIBUTED:
        args._n_gpu = 1  # what Trainer itself sets for model-parallel models, to the same end
        print(
            f"note: {visible} GPUs are visible; this one process trains on {args.device} only "
            "(no DataParallel); launch one process per GPU to use them all",
            file=sys.stderr,
        )

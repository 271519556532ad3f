"""LoRA and its variants through peft: rsLoRA, DoRA, and LoRA on a 4-bit (QLoRA) or 8-bit base."""

from thrifty.methods.registry import register


def task_type(model) -> str:
    """peft's task for the model: SEQ_CLS for a reward model's score head (peft then trains and saves the
    head beside the adapter, as modules_to_save), else CAUSAL_LM."""
    return "SEQ_CLS" if type(model).__name__.endswith("ForSequenceClassification") else "CAUSAL_LM"


def lora_config(
    rank: int,
    alpha: float,
    dropout: float,
    targets,
    use_rslora: bool = False,
    use_dora: bool = False,
    task: str = "CAUSAL_LM",
):
    """The peft LoraConfig thrifty trains with; the planner builds the same one to count parameters."""
    from peft import LoraConfig

    return LoraConfig(
        task_type=task,
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        use_rslora=use_rslora,
        use_dora=use_dora,
    )


def _wrap(model, config, use_rslora: bool, use_dora: bool):
    from peft import get_peft_model

    from thrifty.errors import UserError

    peft_config = lora_config(
        config.rank,
        config.alpha,
        config.dropout,
        config.target_modules,
        use_rslora,
        use_dora,
        task_type(model),
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        # peft raises ValueError for target modules that match nothing: name the ones the model has.
        import torch

        names = sorted({n.split(".")[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise UserError(
            f"method.target_modules={config.target_modules}: {str(exc).splitlines()[0]}; "
            f"this model has: {', '.join(names)}"
        ) from None


@register("lora")
def apply_lora(model, config):
    return _wrap(model, config, config.use_rslora, config.use_dora)


@register("rslora")
def apply_rslora(model, config):
    return _wrap(model, config, True, config.use_dora)


@register("dora")
def apply_dora(model, config):
    return _wrap(model, config, config.use_rslora, True)


def _kbit(model, config):
    from peft import prepare_model_for_kbit_training

    # Casts norms to fp32 and enables input gradients so adapters train on a frozen quantized base.
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return _wrap(model, config, config.use_rslora, config.use_dora)


@register("qlora")
def apply_qlora(model, config):
    return _kbit(model, config)


@register("lora8bit")
def apply_lora8bit(model, config):
    return _kbit(model, config)

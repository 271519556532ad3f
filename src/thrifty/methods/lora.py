"""LoRA (and its rsLoRA / DoRA variants) through peft."""

from thrifty.methods import register


def lora_config(
    rank: int, alpha: float, dropout: float, targets, use_rslora: bool = False, use_dora: bool = False
):
    """The peft LoraConfig thrifty trains with; the planner builds the same one to count parameters."""
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        use_rslora=use_rslora,
        use_dora=use_dora,
    )


@register("lora")
def apply_lora(model, config):
    """Wrap `model` with peft LoRA adapters; only the adapters train."""
    from peft import get_peft_model

    peft_config = lora_config(
        config.rank, config.alpha, config.dropout, config.target_modules, config.use_rslora, config.use_dora
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        # peft raises ValueError for target modules that match nothing; name them for the user.
        from thrifty.errors import UserError

        raise UserError(f"method.target_modules: {exc}") from None

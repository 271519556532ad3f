"""LoRA (and its rsLoRA / DoRA variants) through peft."""

from thrifty.methods import register


@register("lora")
def apply_lora(model, config):
    """Wrap `model` with peft LoRA adapters; only the adapters train."""
    from peft import LoraConfig, get_peft_model

    peft_config = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=config.target_modules,
        use_rslora=config.use_rslora,
        use_dora=config.use_dora,
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        # peft raises ValueError for target modules that match nothing; name them for the user.
        from thrifty.errors import UserError

        raise UserError(f"method.target_modules: {exc}") from None

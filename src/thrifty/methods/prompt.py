"""Methods that learn virtual tokens instead of changing weights: prefix, prompt and P-tuning (peft)."""

from thrifty.methods.registry import register


def _virtual(model, peft_config):
    from peft import get_peft_model

    return get_peft_model(model, peft_config)


@register("prefix")
def apply_prefix(model, config):
    from peft import PrefixTuningConfig

    return _virtual(
        model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens)
    )


@register("prompt")
def apply_prompt(model, config):
    from peft import PromptTuningConfig

    return _virtual(
        model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens)
    )


@register("ptuning")
def apply_ptuning(model, config):
    from peft import PromptEncoderConfig

    return _virtual(
        model,
        PromptEncoderConfig(
            task_type="CAUSAL_LM",
            num_virtual_tokens=config.num_virtual_tokens,
            encoder_hidden_size=config.encoder_hidden_size,
        ),
    )

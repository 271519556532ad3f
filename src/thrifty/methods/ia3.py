"""IA3: learned rescaling vectors on keys, values and the feed-forward activations (peft)."""

from thrifty.methods.registry import register


@register("ia3")
def apply_ia3(model, config):
    from peft import IA3Config, get_peft_model

    from thrifty.methods.lora import task_type

    return get_peft_model(model, IA3Config(task_type=task_type(model)))

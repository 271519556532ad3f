"""Adapter bookkeeping: the model under a peft wrapper, and around TRL's trainers."""


def base_model_of(model):
    """The transformers model a PeftModel wraps (the model itself when it is not wrapped)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def drop_reference_adapter(model) -> None:
    """TRL 1.16, handed a PeftModel, copies its adapter into a second one named "ref" and computes the
    reference through it. thrifty's adapter is freshly initialised (LoRA's B = 0, IA3's ones: the
    identity), so the base with the adapter disabled is the same reference without a second adapter in
    memory, in every checkpoint and in adapter/ (save_pretrained writes every adapter). With "ref" gone
    TRL's reference pass disables the adapters (trl.trainer.utils.use_adapter(model, None))."""
    peft_config = getattr(model, "peft_config", {})
    if "ref" in peft_config:
        model.delete_adapter("ref")

"""Every weight trains: full fine-tuning, freezing all but some layers, and training from scratch."""

from thrifty.errors import UserError
from thrifty.methods.registry import register


@register("full")
def apply_full(model, config):
    for param in model.parameters():
        param.requires_grad = True
    return model


@register("scratch")
def apply_scratch(model, config):
    return apply_full(model, config)


@register("freeze")
def apply_freeze(model, config):
    if config.trainable_modules:
        chosen = [
            (n, m) for n, m in model.named_modules() if any(n.endswith(t) for t in config.trainable_modules)
        ]
        if not chosen:
            raise UserError(
                f"method.trainable_modules: {config.trainable_modules} match no module of this model"
            )
        keep = {id(p) for _, m in chosen for p in m.parameters()}
    else:
        layers = decoder_layers(model)
        if config.trainable_layers > len(layers):
            raise UserError(
                f"method.trainable_layers={config.trainable_layers}: the model has {len(layers)} layers"
            )
        keep = {id(p) for layer in layers[-config.trainable_layers :] for p in layer.parameters()}
    for param in model.parameters():
        param.requires_grad = id(param) in keep
    return model


def decoder_layers(model) -> list:
    """The model's stack of decoder blocks: the longest ModuleList."""
    import torch  # here, not at the top: validating a config imports this module, and torch takes seconds

    stacks = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    if not stacks:
        raise UserError("method freeze: cannot find the model's decoder layers; use method.trainable_modules")
    return list(max(stacks, key=len))

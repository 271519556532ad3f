"""Where eval, generate and export run their model (`--device auto|cpu|cuda`), and moving the model
and every input batch there. One choice for all three verbs, so none silently stays on the CPU."""

from typing import Any

from thrifty.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
DEVICE_HELP = "Where the model runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda."


def add_device_argument(parser) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)


def choose_device(requested: str = "auto") -> str:
    """The device for `--device`: cuda or cpu. Asking for cuda where there is none is a one-line error."""
    if requested not in DEVICES:
        raise UserError(f"--device {requested}: choose from {', '.join(DEVICES)}")
    has_cuda = cuda_available()
    if requested == "cuda" and not has_cuda:
        raise UserError(
            "--device cuda: torch sees no CUDA GPU on this machine (torch.cuda.is_available() is False); "
            "use --device cpu, or auto"
        )
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    return requested


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def already_placed(model: Any) -> bool:
    """A bitsandbytes-quantized model, or one dispatched with a device map: accelerate put every
    weight where it runs at load time, and `.to()` would fail (8-bit) or undo the map."""
    return bool(
        getattr(model, "hf_quantizer", None) is not None
        or getattr(model, "is_loaded_in_8bit", False)
        or getattr(model, "is_loaded_in_4bit", False)
        or getattr(model, "hf_device_map", None)
    )


def place(model: Any, device: str) -> Any:
    """`model` on `device` (a PeftModel moves with its adapters); an already placed model stays."""
    return model if already_placed(model) else model.to(device)


def model_device(model: Any):
    """The device the model's inputs must be on: its `device`, else its first parameter's."""
    import torch

    device = getattr(model, "device", None)
    return device if isinstance(device, torch.device) else next(model.parameters()).device


def to_model_device(batch: dict[str, Any], model: Any) -> dict[str, Any]:
    """Every tensor of `batch` on the model's device (tokenizers and collators build them on the CPU)."""
    device = model_device(model)
    return {k: v.to(device) for k, v in batch.items()}

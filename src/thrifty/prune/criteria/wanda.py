"""Wanda, structured: |W| · ‖X‖ summed over the weights that read a unit's output (Sun et al. 2023 score,
grouped per channel as in Wanda-sp / FLAP). ‖X‖ is the L2 norm over the calibration tokens of each input
channel of down_proj (MLP channels) and o_proj (heads). Producer weights (q/k/v, gate/up) carry no
input norm here and do not count: the consumer side already sees what each channel emits."""

from thrifty.prune.criteria.registry import Criterion, Part, register


def score(parts: list[Part]):
    return sum(
        (p.weight.float().abs() * p.input_norm.float()).sum(dim=1) for p in parts if p.input_norm is not None
    )


register(Criterion("wanda", "activations", score, "|weight| x input-activation norm on calibration data"))

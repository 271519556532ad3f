"""`thrifty plan` as a function (the CLI verb and `thrifty.plan` both call it): the model checked before
torch loads, the plan, and the extras on its cheapest option."""

from typing import Any

from thrifty.errors import UserError

# The values the planner models for each PlanRequest field that takes a name (the CLI's choices too).
CHOICES = {
    "precision": ("bf16", "fp16", "fp32", "bf16-base"),
    "optimizer": ("adamw", "adamw8bit", "paged_adamw8bit", "sgd"),
    "attention": ("flash", "sdpa", "eager"),
    "strategy": ("ddp", "fsdp", "zero2", "zero3"),
    "offload": ("none", "optimizer", "params"),
}


def plan_model(
    fields: dict[str, Any],
    own: str | None = None,
    roi: tuple[float, float] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """The plan for `fields` (PlanRequest's fields; `model` required; `tokens` may be text such as
    "20M"), plus `owned` (break-even of buying GPU `own` against the cheapest cloud option) and `roi`
    ((improvement %, monthly value $) of that option) when asked. `quiet`: silence library chatter
    first (a CLI process)."""
    from thrifty.plan.catalog import check_model

    check_choices(fields)
    check_model(fields["model"])  # before the planner imports torch: a bad name fails in about a second
    if quiet:
        from thrifty.quiet import quiet_libraries

        quiet_libraries()
    from thrifty.plan.planner import PlanRequest, make_plan, parse_tokens

    if isinstance(fields.get("tokens"), str):  # "20M", "1.5B"
        fields = {**fields, "tokens": parse_tokens(fields["tokens"])}
    plan = make_plan(PlanRequest(**fields))
    add_extras(plan, own, roi)
    return plan


def add_extras(plan: dict[str, Any], own: str | None, roi: tuple[float, float] | None) -> None:
    from thrifty.plan import cost
    from thrifty.plan.catalog import find_gpu

    cheapest = next((o for o in plan["options"] if o.get("cheapest")), None)
    if own and cheapest:
        plan["owned"] = cost.owned_break_even(find_gpu(own)["key"], cheapest["usd_per_hour"])
    if roi and cheapest:
        plan["roi"] = cost.roi(cheapest["usd"], roi[0], roi[1])


def check_choices(fields: dict[str, Any]) -> None:
    """Names argparse checks on the command line, checked for the Python API too."""
    from thrifty.config.objectives import OBJECTIVES

    for name, allowed in {**CHOICES, "objective": tuple(OBJECTIVES)}.items():
        if name in fields and fields[name] not in allowed:
            raise UserError(
                f"{name} {fields[name]!r} is not one the planner knows; choose one of: {', '.join(allowed)}"
            )

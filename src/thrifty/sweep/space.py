"""The search space: dotted run-config fields mapped to Optuna distributions, checked against the schema."""

import json
import math
from itertools import product
from typing import Any

import optuna
from pydantic import BaseModel

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError

SCALARS = (str, int, float, bool, type(None))


def valid_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    """Every dotted leaf field of the run config, e.g. method.rank, train.learning_rate."""
    out = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out += valid_fields(sub, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def encode_choice(value: Any) -> Any:
    """Optuna stores only scalars: a list choice such as [q_proj, v_proj] is kept as its JSON text."""
    return value if isinstance(value, SCALARS) else json.dumps(value)


def decode_choice(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def to_distribution(key: str, spec: Any) -> optuna.distributions.BaseDistribution:
    """{choices: [...]} -> categorical; {low, high, log?, step?} -> int (both ends int) or float."""
    where = f"sweep.space.{key}"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected {{low: .., high: ..}} or {{choices: [..]}}, got {spec!r}")
    extra = set(spec) - {"choices", "low", "high", "log", "step"}
    if extra:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(sorted(extra))}; use low/high/log/step or choices"
        )
    if "choices" in spec:
        if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
            raise UserError(f"{where}: choices must be a non-empty list and stand alone")
        choices = [encode_choice(c) for c in spec["choices"]]
        if len(set(map(str, choices))) != len(choices):
            raise UserError(f"{where}: choices repeat a value")
        return optuna.distributions.CategoricalDistribution(choices)
    if "low" not in spec or "high" not in spec:
        raise UserError(f"{where}: a range needs both low and high (or give choices)")
    low, high, step = (_number(spec.get(k)) for k in ("low", "high", "step"))
    log = bool(spec.get("log", False))
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise UserError(f"{where}: low and high must be numbers (got {low!r}, {high!r})")
    if low >= high:
        raise UserError(f"{where}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise UserError(f"{where}: a log range needs low > 0 (got {low})")
    if log and step is not None:
        raise UserError(f"{where}: use either log or step, not both")
    if step is not None and (step <= 0 or step > high - low):
        raise UserError(f"{where}: step must be > 0 and no larger than high - low")
    if isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int)):
        return optuna.distributions.IntDistribution(low, high, log=log, step=step or 1)
    return optuna.distributions.FloatDistribution(float(low), float(high), log=log, step=step)


def _number(value: Any) -> Any:
    # YAML 1.1 reads 1e-5 (no dot) as a string; accept it as the number the user meant.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_space(raw: dict[str, Any]) -> dict[str, optuna.distributions.BaseDistribution]:
    """Validate the space against the schema and each value range; return key -> distribution."""
    if not raw:
        raise UserError("sweep.space is empty; add at least one field, e.g. method.rank: {choices: [8, 16]}")
    fields = valid_fields()
    unknown = [k for k in raw if k not in fields]
    if unknown:
        raise UserError(
            f"sweep.space: unknown config field {unknown[0]!r}; valid fields: {', '.join(fields)}"
        )
    return {key: to_distribution(key, spec) for key, spec in raw.items()}


def grid_points(space: dict[str, optuna.distributions.BaseDistribution]) -> dict[str, list[Any]]:
    """Each dimension's values for a full grid; a continuous range without a step has none."""
    out = {}
    for key, dist in space.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            out[key] = list(dist.choices)
        elif dist.step is not None and not dist.log:
            count = int(math.floor((dist.high - dist.low) / dist.step + 1e-9)) + 1
            out[key] = [dist.low + i * dist.step for i in range(count)]
            if isinstance(dist, optuna.distributions.FloatDistribution):
                out[key] = [round(v, 12) for v in out[key]]
        elif isinstance(dist, optuna.distributions.IntDistribution):
            out[key] = list(range(dist.low, dist.high + 1))
        else:
            raise UserError(
                f"sweep.space.{key}: the grid sampler needs choices or a step for continuous ranges"
            )
    return out


def grid_configs(space) -> list[dict[str, Any]]:
    points = grid_points(space)
    return [dict(zip(points, values, strict=True)) for values in product(*points.values())]


def check_endpoints(base: dict[str, Any], space) -> None:
    """Both ends of every range and every choice must make a valid run config (catches method.rank: 0)."""
    for key, dist in space.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            values = list(dist.choices)
        else:
            values = [dist.low, dist.high]
        for value in values:
            apply_params(base, {key: value}, source=f"sweep.space.{key}={value!r}")


def apply_params(base: dict[str, Any], params: dict[str, Any], source: str = "trial") -> RunConfig:
    """A run config: `base` with each dotted field set to the trial's value, validated."""
    import copy

    from thrifty.config.load import set_dotted, validate

    raw = copy.deepcopy(base)
    for key, value in params.items():
        set_dotted(raw, key, decode_choice(value))
    return validate(raw, source=source)

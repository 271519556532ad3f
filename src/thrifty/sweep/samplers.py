"""Optuna samplers by name, all seeded; a Latin hypercube sampler on scipy's `qmc.LatinHypercube`."""

import math
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.samplers import BaseSampler, RandomSampler

from thrifty.sweep.space import grid_points


class LatinHypercubeSampler(BaseSampler):
    """The k-th sampled trial takes row k of a seeded Latin hypercube design of `n` points over the space.

    Every dimension is cut into `n` equal-probability strata and each stratum holds exactly one of the
    `n` points (McKay et al. 1979), so n trials cover each range evenly, unlike n random draws. A trial's
    row is the number of earlier trials that the sampler chose (enqueued ones, i.e. retries and
    warm starts, take no row), which storage makes unique, so parallel workers never repeat a point
    and a retried trial leaves no stratum empty. Trials
    past `n` start a fresh design (seed + block). Unit samples map onto distributions like Optuna's
    QMCSampler: linear or log ranges, integer steps, and categorical choices by equal-width bins.
    """

    def __init__(self, space: dict[str, BaseDistribution], n: int, seed: int = 0):
        self._space = dict(space)
        self._n = max(1, n)
        self._seed = seed
        self._designs: dict[int, np.ndarray] = {}
        self._fallback = RandomSampler(seed=seed)  # for parameters outside `space`

    def design(self, block: int = 0) -> np.ndarray:
        from scipy.stats import qmc

        if block not in self._designs:
            engine = qmc.LatinHypercube(d=len(self._space), seed=self._seed + block)
            self._designs[block] = engine.random(self._n)
        return self._designs[block]

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return self._space

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        if not search_space:
            return {}
        block, row = divmod(sampled_before(study, trial.number), self._n)
        unit = self.design(block)[row]
        return {key: from_unit(u, dist) for (key, dist), u in zip(self._space.items(), unit, strict=True)}

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)


def sampled_before(study: optuna.Study, number: int) -> int:
    """Trials numbered below `number` whose values came from the sampler, not from enqueue_trial."""
    trials = study.get_trials(deepcopy=False)
    return sum(t.number < number and "fixed_params" not in t.system_attrs for t in trials)


def from_unit(u: float, dist: BaseDistribution) -> Any:
    """Map u in [0, 1) onto `dist` so equal strata of u map to equal-probability parts of the range."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[min(int(u * len(dist.choices)), len(dist.choices) - 1)]
    if dist.log:
        value = math.exp(math.log(dist.low) + u * (math.log(dist.high) - math.log(dist.low)))
        return (
            min(max(round(value), dist.low), dist.high) if not isinstance(dist, FloatDistribution) else value
        )
    if dist.step is None:  # continuous float range
        return dist.low + u * (dist.high - dist.low)
    count = int(math.floor((dist.high - dist.low) / dist.step + 1e-9)) + 1
    value = dist.low + min(int(u * count), count - 1) * dist.step
    return value if isinstance(dist, FloatDistribution) else int(value)


def make_sampler(
    name: str, space: dict[str, BaseDistribution], trials: int, seed: int, worker: int = 0
) -> BaseSampler:
    """`worker` shifts the seed of samplers that draw from a private random stream (random, tpe), so
    parallel workers do not repeat each other; lhs, sobol and grid index a shared sequence instead."""
    samplers = optuna.samplers
    if name == "grid":
        return samplers.GridSampler(grid_points(space), seed=seed)
    if name == "random":
        return samplers.RandomSampler(seed=seed + worker)
    if name == "sobol":
        import warnings

        with warnings.catch_warnings():  # "experimental" since Optuna 3.0; stable enough for us
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return samplers.QMCSampler(
                qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False
            )
    if name == "tpe":
        return samplers.TPESampler(seed=seed + worker, n_startup_trials=max(2, min(10, trials // 3)))
    if name == "lhs":
        return LatinHypercubeSampler(space, trials, seed)
    raise ValueError(f"unknown sampler {name}")

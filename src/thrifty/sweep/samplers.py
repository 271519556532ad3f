"""Optuna samplers by name, all seeded; a design-by-trial-number sampler on scipy's `qmc` (LHS, Sobol)."""

import math
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.samplers import BaseSampler, RandomSampler

from thrifty.sweep.space import grid_points

ENGINES = ("lhs", "sobol")


class DesignSampler(BaseSampler):
    """The k-th sampled trial takes point k of a seeded scipy design over the space.

    A trial's point is the number of earlier trials that the sampler chose (enqueued ones, i.e. retries
    and warm starts, take no point), which storage makes unique, so parallel workers never repeat a
    point and a retried trial leaves no gap. Engines:

    - `lhs`: a Latin hypercube of `n` points: every dimension is cut into `n` equal-probability strata
      and each stratum holds exactly one point (McKay et al. 1979), so n trials cover each range evenly,
      unlike n random draws. Trials past `n` start a fresh design (seed + block).
    - `sobol`: one scrambled Sobol sequence (seed), which has no size: trials past `n` continue it.

    Unit samples map onto distributions like Optuna's QMCSampler: linear or log ranges, integer steps,
    and categorical choices by equal-width bins.
    """

    def __init__(self, space: dict[str, BaseDistribution], n: int, seed: int = 0, engine: str = "lhs"):
        if engine not in ENGINES:
            raise ValueError(f"unknown design engine {engine}")
        self._space = dict(space)
        self._n = max(1, n)
        self._seed = seed
        self._engine = engine
        self._designs: dict[int, np.ndarray] = {}
        self._fallback = RandomSampler(seed=seed)  # for parameters outside `space`

    def design(self, block: int = 0) -> np.ndarray:
        """Points block*n .. (block+1)*n - 1 (lhs: the block-th design; sobol: that slice of the sequence)."""
        if self._engine == "sobol":
            return self.sobol((block + 1) * self._n)[block * self._n : (block + 1) * self._n]
        from scipy.stats import qmc

        if block not in self._designs:
            engine = qmc.LatinHypercube(d=len(self._space), seed=self._seed + block)
            self._designs[block] = engine.random(self._n)
        return self._designs[block]

    def sobol(self, count: int) -> np.ndarray:
        """The first `count` or more points of the sequence, drawn in powers of two (where Sobol points
        are balanced); a prefix does not depend on how many are drawn, so an extended sweep continues it."""
        from scipy.stats import qmc

        have = self._designs.get(-1)
        if have is None or len(have) < count:
            m = max(1, math.ceil(math.log2(max(count, self._n))))
            engine = qmc.Sobol(d=len(self._space), scramble=True, seed=self._seed)
            self._designs[-1] = have = engine.random_base2(m)
        return have

    def point(self, index: int) -> np.ndarray:
        block, row = divmod(index, self._n)
        return self.design(block)[row]

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return self._space

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        if not search_space:
            return {}
        unit = self.point(sampled_before(study, trial.number))
        return {key: from_unit(u, dist) for (key, dist), u in zip(self._space.items(), unit, strict=True)}

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)


def sampled_before(study: optuna.Study, number: int) -> int:
    """Trials numbered below `number` whose values came from the sampler, not from enqueue_trial or
    a heartbeat retry (which copies a failed trial's values and marks them `failed_trial`)."""
    trials = study.get_trials(deepcopy=False)
    queued = ("fixed_params", "failed_trial")
    return sum(t.number < number and not any(k in t.system_attrs for k in queued) for t in trials)


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
    if name == "tpe":
        return samplers.TPESampler(seed=seed + worker, n_startup_trials=max(2, min(10, trials // 3)))
    if name in ENGINES:
        # Not Optuna's QMCSampler for sobol: it samples each worker's first trial at random (seeded
        # alike, so workers repeat it) and advances a shared counter non-atomically.
        return DesignSampler(space, trials, seed, engine=name)
    raise ValueError(f"unknown sampler {name}")

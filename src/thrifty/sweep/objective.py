"""One trial: sampled values -> run config -> `thrifty.train` -> objective values and a results row."""

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

from thrifty.errors import Preempted
from thrifty.sweep.results import RESULTS, ResultRow, append_row
from thrifty.sweep.settings import SweepSettings
from thrifty.sweep.space import apply_params, decode_choice, parse_space
from thrifty.sweep.storage import retried_trial_number, retry_callback

PLAN = "sweep.json"  # everything a worker needs, written by the parent before any trial starts


@dataclass
class SweepPlan:
    sweep_dir: str
    base: dict[str, Any]  # the run config every trial starts from (subset data, scaled steps)
    full: dict[str, Any]  # the same on the full data, for `finalize`
    space: dict[str, Any]
    settings: dict[str, Any]
    study_name: str
    storage: str
    trials: int
    features: dict[str, Any] = field(default_factory=dict)

    @property
    def sweep(self) -> SweepSettings:
        return SweepSettings.model_validate(self.settings)

    def save(self) -> None:
        from thrifty.io import write_json_atomic

        write_json_atomic(Path(self.sweep_dir) / PLAN, asdict(self))

    @classmethod
    def load(cls, sweep_dir: Path) -> "SweepPlan":
        from thrifty.errors import UserError

        path = sweep_dir / PLAN
        if not path.is_file():
            raise UserError(f"{sweep_dir} is not a sweep folder (no {PLAN}); run `thrifty sweep FILE` first")
        return cls(**json.loads(path.read_text()))


def suggest(trial: optuna.Trial, key: str, dist) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, list(dist.choices))
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(key, dist.low, dist.high, log=dist.log, step=dist.step)
    return trial.suggest_int(key, dist.low, dist.high, log=dist.log, step=dist.step)


def trial_cost(summary: dict[str, Any], method: str, settings: SweepSettings) -> float | None:
    """Planner price on `gpu` for the run's FLOPs (as compare does), else measured seconds x $/h."""
    if settings.gpu:
        from thrifty.compare.dollars import run_dollars

        return run_dollars(summary, method, settings.gpu)["usd"]
    if settings.usd_per_hour:
        return summary["wall_seconds"] * settings.usd_per_hour / 3600
    return None


class Objective:
    def __init__(self, plan: SweepPlan, progress: bool = False, stop=None):
        self.plan = plan
        self.stop = stop  # runner.StopOnSigterm: a SIGTERM between trainings, raised at safe points
        self.settings = plan.sweep
        self.space = parse_space(plan.space)
        self.progress = progress
        from thrifty.train.reuse import Preloaded

        # One per worker process: every trial of this worker copies the same loaded base and data.
        self.preloaded = Preloaded() if self.settings.reuse_loads else None

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        try:
            return self.run(trial)
        except (Preempted, KeyboardInterrupt):
            # Stop the sweep (the exception leaves optimize(); Optuna marks this trial failed) and
            # queue the same values again, so the resumed sweep retries this config first, from the
            # checkpoint the preemption wrote (or the finished run, if training was already done).
            queue_retry(trial)
            raise

    def run(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        from thrifty.sweep.pruning import PruningCallback
        from thrifty.train.run import train

        params = {key: suggest(trial, key, dist) for key, dist in self.space.items()}
        twin = finished_twin(trial)
        if twin is not None:
            return self.reuse(trial, twin)
        run_dir, resume = trial_run_dir(self.plan, trial)
        self._check_stop()
        trial.set_user_attr("run_dir", str(run_dir))  # a retry of this trial continues this folder
        # A fresh trial replaces whatever a deleted study left in its folder; a retry keeps it.
        base = {**self.plan.base, "output": {"dir": str(run_dir), "overwrite": not resume}}
        config = apply_params(base, params, source=f"trial {trial.number}")
        pruning = PruningCallback(trial, self.settings) if self.settings.pruner != "none" else None
        again = f" (continues {run_dir.name})" if resume else ""
        print(f"sweep: trial {trial.number} {json.dumps(params)}{again}", file=sys.stderr)
        try:
            summary = train(
                config,
                progress=self.progress,
                resume="auto" if resume else None,
                callbacks=[pruning] if pruning else None,
                preloaded=self.preloaded,
                on_trainer=self.subset_evals if pruning else None,
            ).summary
        except Preempted:
            raise
        except Exception as exc:  # one bad config (say out of memory) fails its trial, not the sweep
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            trial.set_user_attr("error", message)
            print(f"sweep: trial {trial.number} failed: {message}", file=sys.stderr)
            return (
                math.nan
                if len(self.settings.objectives) == 1
                else (math.nan,) * len(self.settings.objectives)
            )
        pruned = pruning is not None and pruning.pruned_at is not None
        self._check_stop()  # before scoring: the trained run resumes as finished, so the retry only scores
        score = None if pruned or not self.settings.metric else self.task_metric(trial, config.output.dir)
        values = self.record(trial, config, summary, score)
        if pruned:
            raise optuna.TrialPruned(f"pruned after evaluation {pruning.pruned_at}")
        return values[0] if len(values) == 1 else tuple(values)

    def subset_evals(self, trainer) -> None:
        """The pruner's evaluations during training on `prune_eval_examples` held-out rows."""
        from thrifty.sweep.pruning import SubsetEvals

        if self.settings.prune_eval_examples:
            # The run config's seed, not a trial's values: every trial evaluates the same rows.
            seed = self.plan.base["train"]["seed"]
            trainer.add_callback(SubsetEvals(trainer, self.settings.prune_eval_examples, seed))

    def reuse(self, trial: optuna.Trial, twin: optuna.trial.FrozenTrial) -> float | tuple[float, ...]:
        """Same values as a completed trial: training is seeded, so it would repeat the same run. Discrete
        spaces make such repeats common (LHS strata and Sobol points map onto few choices)."""
        print(
            f"sweep: trial {trial.number} repeats trial {twin.number}'s values; reusing its result",
            file=sys.stderr,
        )
        spent = {"train_seconds": 0.0, "steps": 0, "tokens": 0, "cost_usd": 0.0}
        for key, value in {**twin.user_attrs, **spent, "duplicate_of": twin.number}.items():
            trial.set_user_attr(key, value)
        # The objective values are the twin's, cost included: reporting the $0 / 0 s this repeat spent
        # would make it dominate its own twin in a multi-objective sweep. What it spent stays in its
        # user attrs (results row, dollar budget).
        return twin.values[0] if len(twin.values) == 1 else tuple(twin.values)

    def task_metric(self, trial: optuna.Trial, run_dir: str | Path) -> float:
        """The trial's task metric, scored by `thrifty eval` on generated answers to held-out questions;
        its eval.json and eval.md stay in the trial folder for a person to read the answers."""
        from thrifty.eval.runner import EvalOptions, evaluate_run

        options = EvalOptions(
            metrics=[self.settings.metric],
            labels=self.settings.metric_labels,
            max_examples=self.settings.metric_examples,
            max_new_tokens=self.settings.metric_max_new_tokens,
            shown_examples=0,
            force=True,
            progress=self.progress,
        )
        report = evaluate_run(run_dir, options)
        # evaluate_run refuses a named metric on plain-text data (one line, exit 2), so the score is there.
        score = report["models"]["fine_tuned"]["scores"][self.settings.metric]
        print(f"sweep: trial {trial.number} {self.settings.metric} = {score:.4f}", file=sys.stderr)
        speed = report["models"]["fine_tuned"].get("tokens_per_second")
        if speed:  # inference latency, unlike latency_ms_per_token (training time per token)
            trial.set_user_attr("generation_ms_per_token", 1000 / speed)
        return float(score)

    def _check_stop(self) -> None:
        if self.stop is not None:
            self.stop.check()

    def record(
        self, trial: optuna.Trial, config, summary: dict[str, Any], score: float | None
    ) -> list[float]:
        seconds, tokens = summary["wall_seconds"], summary["train_tokens"]
        measured = {
            "eval_loss": summary["eval_loss_after"],
            "accuracy": score,
            "preference_accuracy": summary.get("preference_accuracy_after"),
            "reward_margin": summary.get("reward_margin_after"),
            "train_seconds": seconds,
            "tokens": tokens,
            "steps": summary["steps"],
            "cost_usd": trial_cost(summary, config.method.name, self.settings),
            "latency_ms_per_token": 1000 * seconds / tokens if tokens else None,
            "model_params": summary["total_params"],
            "run_dir": str(config.output.dir),
        }
        for key, value in measured.items():
            trial.set_user_attr(key, value)
        return [measured[name] for name in self.settings.objectives]


def trial_run_dir(plan: SweepPlan, trial: optuna.Trial) -> tuple[Path, bool]:
    """(run folder, whether to resume it): a retried trial continues its original's folder from the
    newest verified checkpoint there; any other trial starts trials/trial-NNNN afresh.

    A retry is known by the folder it inherited (Optuna's heartbeat retry and `queue_retry` copy the
    user attrs; a resumed grid queues a failed point with its folder), else by Optuna's `failed_trial`.
    """
    trials = Path(plan.sweep_dir) / "trials"
    frozen = trial.study.get_trials(deepcopy=False)[trial.number]
    if frozen.user_attrs.get("run_dir"):
        return Path(frozen.user_attrs["run_dir"]), True
    failed = retried_trial_number(frozen)
    if failed is not None:
        return trials / f"trial-{failed:04d}", True
    return trials / f"trial-{trial.number:04d}", False


def queue_retry(trial: optuna.Trial) -> None:
    """Queue an interrupted trial again, as Optuna's heartbeat retry would: same values, user attrs
    (its run folder) and eval-loss reports, marked `failed_trial` (so no design point is taken)."""
    frozen = trial.study.get_trials(deepcopy=False)[trial.number]
    # No retry limit: each preemption leaves a checkpoint, so every retry gets further.
    retry_callback(max_retry=None)(trial.study, frozen)


def finished_twin(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """An earlier completed trial with exactly these parameter values, if any."""
    done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return next((t for t in done if t.number != trial.number and t.params == trial.params), None)


def row_from_trial(plan: SweepPlan, frozen: optuna.trial.FrozenTrial) -> ResultRow | None:
    """The results row of a finished trial (None while it runs or waits)."""
    states = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail"}
    state = states.get(frozen.state.name)
    if state is None:
        return None
    params = {k: decode_choice(v) for k, v in frozen.params.items()}
    config = apply_params(plan.base, params)
    attrs, method, train_cfg = frozen.user_attrs, config.method, config.train
    from thrifty.methods.table import method_info

    adapter = method_info(method.name).low_rank
    finished = frozen.datetime_complete or datetime.now(UTC)
    return ResultRow(
        domain=plan.sweep.domain,
        model=config.model.name,
        method=method.name,
        rank=method.rank if adapter else None,
        alpha=method.alpha if adapter else None,
        dropout=method.dropout if adapter else None,
        learning_rate=train_cfg.learning_rate,
        weight_decay=train_cfg.weight_decay,
        target_modules=method.target_modules,
        epochs=train_cfg.epochs,
        max_steps=train_cfg.max_steps,
        eval_loss=attrs.get("eval_loss"),
        accuracy=attrs.get("accuracy"),
        generation_ms_per_token=attrs.get("generation_ms_per_token"),
        metric=plan.sweep.metric if attrs.get("accuracy") is not None else None,
        objective=train_cfg.objective,
        preference_accuracy=attrs.get("preference_accuracy"),
        reward_margin=attrs.get("reward_margin"),
        train_seconds=attrs.get("train_seconds"),
        latency_ms_per_token=attrs.get("latency_ms_per_token"),
        cost_usd=attrs.get("cost_usd"),
        tokens=attrs.get("tokens"),
        timestamp=finished.astimezone(UTC).isoformat(),  # Optuna stores naive local time
        trial_id=frozen.number,
        state=state,
        study=plan.study_name,
        sampler=plan.sweep.sampler,
        steps=attrs.get("steps"),
        search_fraction=plan.sweep.search_fraction,
        params=params,
        data_examples=plan.features.get("data_examples"),
        data_tokens_mean=plan.features.get("data_tokens_mean"),
        data_tokens_p90=plan.features.get("data_tokens_p90"),
        model_params=plan.features.get("model_params") or attrs.get("model_params"),
        run_dir=attrs.get("run_dir"),
        duplicate_of=attrs.get("duplicate_of"),
    )


def results_callback(plan: SweepPlan):
    """Optuna study callback: append each finished trial's row as soon as it ends."""

    def callback(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        row = row_from_trial(plan, frozen)
        if row is not None:
            append_row(Path(plan.sweep_dir) / RESULTS, row)

    return callback


def sync_results(plan: SweepPlan, study: optuna.Study) -> int:
    """Append rows for finished trials that results.jsonl lacks (a worker killed between the two writes)."""
    from thrifty.sweep.results import read_rows

    path = Path(plan.sweep_dir) / RESULTS
    have = {(r["study"], r["trial_id"]) for r in read_rows(path)}
    added = 0
    for frozen in study.get_trials(deepcopy=False):
        row = row_from_trial(plan, frozen) if (plan.study_name, frozen.number) not in have else None
        if row is not None:
            append_row(path, row)
            added += 1
    return added

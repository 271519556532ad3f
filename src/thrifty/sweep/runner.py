"""`thrifty sweep FILE`: prepare the plan once, then run trials in this process or N local workers."""

import json
import logging
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import optuna

from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR, Preempted, UserError
from thrifty.outputs import check_output, claim_output
from thrifty.sweep.budget import SECONDS_SPENT, Budget, minutes_left, spent_dollars
from thrifty.sweep.objective import Objective, SweepPlan, results_callback, sync_results
from thrifty.sweep.settings import SweepSettings, check_objective_data, parse_settings, read_sweep_file
from thrifty.sweep.space import check_endpoints, grid_configs, parse_space
from thrifty.sweep.storage import default_url, load_study, open_storage, study_user_attrs

KIND = "sweep"  # the sweep folder's marker (thrifty.outputs): its trial and final runs are "train"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
# Study user attr: the points of the lhs/sobol design, fixed when the study is created (the first
# --trials), since a resumed sweep may ask for another number of trials.
DESIGN_SIZE = "design_size"


class WorkersFailed(Exception):
    """A worker process ended badly and has said why; `code` is the exit status the sweep ends with."""

    def __init__(self, code: int):
        super().__init__(f"a sweep worker failed (exit {code})")
        self.code = code


def prepare(path: Path, overrides: dict[str, Any], output: str | None) -> SweepPlan:
    """Validate the sweep file (+ command-line overrides) and write SWEEP/sweep.json with what trials use."""
    from thrifty.config.load import validate

    base, raw = read_sweep_file(path)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    settings = parse_settings(raw, str(path))
    full = validate(base, source=str(path))
    space = parse_space(settings.space)
    check_endpoints(base, space)
    if "cost_usd" in settings.objectives and not (settings.gpu or settings.usd_per_hour):
        raise UserError(f"{path}: objective cost_usd needs sweep.gpu or sweep.usd_per_hour to price trials")
    check_objective_data(settings, full, str(path))  # before the sweep folder exists
    preference = {"preference_accuracy", "reward_margin"} & set(settings.objectives)
    if preference and full.train.objective == "sft":
        raise UserError(
            f"{path}: objective {', '.join(sorted(preference))} needs a preference run: set "
            "train.objective (dpo, orpo, simpo, kto) in the sweep file's config"
        )
    sweep_dir = Path(output or Path("runs") / f"sweep-{settings.domain}")
    protect = data_paths(full)
    check_output(sweep_dir, KIND, protect=protect)  # a folder of the user's: one line, nothing written
    trials = count_trials(settings, space)
    url, study_name = open_sweep_dir(settings, sweep_dir, trials, protect)
    trial_base = full.model_dump(mode="json")
    examples = None
    if settings.search_fraction < 1:
        from thrifty.sweep.subset import write_subset

        fields = write_subset(full.data, full.train.seed, settings.search_fraction, sweep_dir / "data")
        examples = fields.pop("train_examples")
        trial_base["data"].update(fields)
        if full.train.max_steps:
            trial_base["train"]["max_steps"] = max(
                1, math.ceil(full.train.max_steps * settings.search_fraction)
            )
    if settings.pruner != "none" and not full.train.eval_every_steps:
        steps = trial_base["train"]["max_steps"] or estimate_steps(full, examples)
        trial_base["train"]["eval_every_steps"] = max(1, steps // settings.evals_per_trial)
    from thrifty.autotune.features import data_features

    plan = SweepPlan(
        sweep_dir=str(sweep_dir.resolve()),
        base=trial_base,
        full=full.model_dump(mode="json"),
        space=settings.space,
        settings=settings.model_dump(mode="json"),
        study_name=study_name,
        storage=url,
        trials=trials,
        features=data_features(full),
    )
    check_same_search(sweep_dir, plan)
    plan.save()
    return plan


# What makes trials comparable; a resumed sweep may change the rest (trials, budgets, workers, storage).
SAME_SEARCH = (
    "space",
    "objectives",
    "sampler",
    "seed",
    "search_fraction",
    "pruner",
    "metric",
    "prune_eval_examples",
)


def check_same_search(sweep_dir: Path, plan: SweepPlan) -> None:
    """Refuse to resume a sweep folder with another space or run config: its trials would not compare."""
    from thrifty.sweep.objective import PLAN

    if not (sweep_dir / PLAN).is_file():
        return
    old = SweepPlan.load(sweep_dir)
    changed = [f"sweep.{k}" for k in SAME_SEARCH if old.settings.get(k) != plan.settings.get(k)]
    changed += ["the run config"] if old.base != plan.base else []
    if changed:
        raise UserError(
            f"{sweep_dir} holds a sweep with another {', '.join(changed)}; its trials would not compare "
            "with the new ones: pass a new --output, or put the old values back to resume it"
        )


def data_paths(config) -> list[Path]:
    """The local data files the sweep reads: a sweep folder holding one is never replaced."""
    return [Path(p) for p in (config.data.path, config.data.eval_path) if p and Path(p).exists()]


def open_sweep_dir(
    settings: SweepSettings, sweep_dir: Path, trials: int, protect: list[Path] = ()
) -> tuple[str, str]:
    """(storage URL, study name) once the storage answers and a resumed design fits `trials`; the
    folder is claimed as a sweep's (new, empty or already a sweep's: see thrifty.outputs)."""
    url, study_name = (
        settings.storage or default_url(sweep_dir),
        settings.study_name or sweep_dir.resolve().name,
    )
    # A server URL is tried before any data is read or written: an unreachable one is one line.
    storage = open_storage(url) if settings.storage else None
    claim_output(sweep_dir, KIND, protect=protect)
    check_design_size(storage or open_storage(url), study_name, settings.sampler, trials)
    return url, study_name


def check_design_size(storage, study_name: str, sampler: str, trials: int) -> None:
    """An LHS design cannot grow: more trials than it has would leave strata with two or none (a
    Sobol sequence simply continues)."""
    size = (study_user_attrs(storage, study_name) or {}).get(DESIGN_SIZE)
    if sampler == "lhs" and size is not None and trials > size:
        raise UserError(
            f"study {study_name!r} has a Latin hypercube design of {size} trials, which cannot grow to "
            f"{trials}: resume with --trials {size} or fewer, or start a new sweep with --output NEW_DIR "
            "(sampler sobol can be extended)"
        )


def count_trials(settings: SweepSettings, space) -> int:
    if settings.sampler == "grid":
        size = len(grid_configs(space))
        if settings.trials and settings.trials > size:
            print(f"sweep: the grid has {size} points; running {size} trials", file=sys.stderr)
        return min(settings.trials or size, size)
    if not settings.trials:
        raise UserError("how many trials? set sweep.trials in the file or pass --trials N")
    return settings.trials


def estimate_steps(config, examples: int | None) -> int:
    """Optimizer steps of an epoch-based run (for the eval interval the pruner needs)."""
    from thrifty.data.readers import read_records

    n = examples or round(
        len(read_records(config.data.path, config.data.split)) * (1 - config.data.val_fraction)
    )
    batch = config.train.micro_batch_size * config.train.gradient_accumulation_steps
    return max(1, math.ceil(n / batch * config.train.epochs))


def open_plan_study(plan: SweepPlan, worker: int = 0) -> optuna.Study:
    from thrifty.sweep.pruning import make_pruner
    from thrifty.sweep.samplers import make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what happens
    settings = plan.sweep
    storage = open_storage(plan.storage)
    size = (study_user_attrs(storage, plan.study_name) or {}).get(DESIGN_SIZE, plan.trials)
    sampler = make_sampler(settings.sampler, parse_space(plan.space), size, settings.seed, worker)
    directions = [settings.direction(name) for name in settings.objectives]
    study = load_study(storage, plan.study_name, directions, sampler, make_pruner(settings.pruner))
    if DESIGN_SIZE not in study.user_attrs:
        study.set_user_attr(DESIGN_SIZE, size)
    return study


def enqueue_first(plan: SweepPlan, study: optuna.Study, suggestions: list[dict[str, Any]]) -> int:
    """Queue the grid points (grid) and warm-start configs that the study has not seen yet.

    A failed trial's values count as unseen (unless a retry of them is queued or ran), so a resumed
    grid sweep tries a failed point again; Optuna's skip_if_exists would count it as seen."""
    from thrifty.sweep.space import encode_choice

    queued = grid_configs(parse_space(plan.space)) if plan.sweep.sampler == "grid" else []
    trials = study.get_trials(deepcopy=False)
    tried = [t for t in trials if t.state != optuna.trial.TrialState.FAIL]
    seen = [t.params for t in tried] + [t.system_attrs.get("fixed_params", {}) for t in tried]
    # A failed point's run folder: queued again, it resumes from the checkpoints that run left.
    folders = {
        json.dumps(t.params, sort_keys=True): t.user_attrs["run_dir"]
        for t in trials
        if t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("run_dir")
    }
    added = 0
    for params in suggestions + queued:
        params = {k: encode_choice(v) for k, v in params.items()}
        if params not in seen:
            folder = folders.get(json.dumps(params, sort_keys=True))
            study.enqueue_trial(params, user_attrs={"run_dir": folder} if folder else None)
            seen.append(params)
            added += 1
    return added


def budget_callbacks(plan: SweepPlan, budget: Budget) -> list:
    """Run after each trial, in order: its results row, then whether the next one may start."""
    return [
        results_callback(plan),
        optuna.study.MaxTrialsCallback(plan.trials, states=FINISHED),
        budget.stop_if_reached,
    ]


def trials_to_run(plan: SweepPlan, study: optuna.Study) -> int:
    """Trials still to start: the rest of plan.trials, none once a resumed sweep's dollars are spent."""
    done = sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))
    if done:
        print(f"sweep: resuming {plan.study_name}: {done} of {plan.trials} trials finished", file=sys.stderr)
    if minutes_left(plan.sweep, study) == 0:
        print(
            f"sweep: the {plan.sweep.budget_minutes:g}-minute budget was spent by earlier runs; no new trial "
            "(raise --budget-minutes to go on)",
            file=sys.stderr,
        )
        return 0
    budget = plan.sweep.budget_dollars
    if budget and spent_dollars(study) >= budget:
        print(
            f"sweep: ${spent_dollars(study):.4f} already spent, budget ${budget} reached; no new trial "
            "(raise --budget-dollars to go on)",
            file=sys.stderr,
        )
        return 0
    return max(0, plan.trials - done)


def run_trials(plan: SweepPlan, n_trials: int, deadline: float | None, worker: int, progress: bool) -> None:
    """One worker: pull trials from the shared study until its share, the budget, or the grid runs out.

    `deadline` (time.time() seconds) ends --budget-minutes for all workers alike; it and the shared
    spend are checked before every trial, the first included (budget.py states the bound)."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna warns of each failed trial, with the traceback of an error that stops the sweep; the
    # objective already says why a trial failed, and a user error or preemption is told in one line.
    logging.getLogger("optuna.study._optimize").setLevel(logging.ERROR)
    study = open_plan_study(plan, worker)
    budget = Budget(plan.sweep.budget_dollars, deadline)
    reason = budget.reached(study)
    if reason:
        print(f"sweep: {reason}; no new trial starts", file=sys.stderr)
        return
    with StopOnSigterm() as stop:
        study.optimize(
            Objective(plan, stop=stop),
            n_trials=n_trials,
            callbacks=[*budget_callbacks(plan, budget), stop.after_trial],
            show_progress_bar=progress,
        )
    stop.check()  # a stop that came while a trial finished: that trial is complete, none is queued


class StopOnSigterm:
    """Between trainings a SIGTERM would kill the process where it stands. The handler only marks the
    request: raised from a signal handler, Preempted could land anywhere, e.g. inside an SQLAlchemy
    weakref callback, where Python prints "Exception ignored" and the stop is lost. The objective
    raises it at its own safe points (before training, before scoring), and a trial-end callback stops
    the study; training installs its own handler meanwhile. Either way the sweep exits 75."""

    def __init__(self):
        self.requested = False
        self.old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # only it receives signals
            self.old = signal.signal(signal.SIGTERM, self.handle)
        return self

    def handle(self, signum, frame):
        self.requested = True
        print("\nsweep: SIGTERM: stopping at the next safe point", file=sys.stderr)

    def check(self) -> None:
        if self.requested:
            raise Preempted("SIGTERM")

    def after_trial(self, study: optuna.Study, _trial) -> None:
        if self.requested:
            study.stop()

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def run_sweep(plan: SweepPlan, suggestions: list[dict[str, Any]], progress: bool = True) -> optuna.Study:
    settings = plan.sweep
    started = time.monotonic()
    study = open_plan_study(plan)
    enqueue_first(plan, study, suggestions)
    remaining = trials_to_run(plan, study)
    deadline = Budget.of(settings, study).deadline
    code = 0
    segment = time.monotonic()
    try:
        if remaining and settings.workers == 1:
            run_trials(plan, remaining, deadline, 0, progress)
        elif remaining:
            code = run_workers(plan, remaining, settings.workers, deadline)
    finally:  # an interrupted run's minutes count too (a SIGKILL loses only this run's)
        spent = study.user_attrs.get(SECONDS_SPENT, 0.0) + time.monotonic() - segment
        study.set_user_attr(SECONDS_SPENT, spent)
    sync_results(plan, study)
    print(f"sweep: {time.monotonic() - started:.0f} s", file=sys.stderr)
    if code:
        raise WorkersFailed(code)
    return study


def workers_exit(codes: list[int]) -> int:
    """The sweep's exit status from its workers': preempted (75: rerun to resume) wins over a user
    error (2), which wins over a crash (1; a worker killed by a signal has a negative code)."""
    for code in (EXIT_PREEMPTED, EXIT_USER_ERROR):
        if code in codes:
            return code
    return 1 if any(codes) else 0


class ForwardStops:
    """While workers run, SIGTERM, SIGINT or SIGHUP to this process is passed on to each worker as
    SIGTERM: it checkpoints its trial, queues it again and exits 75 (so the sweep does too). Killed
    alone, this process would leave its workers training on, unseen."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self, procs: list):
        self.procs, self.old, self.stopped = procs, {}, False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.old = {sig: signal.signal(sig, self.forward) for sig in self.SIGNALS}
        return self

    def forward(self, signum, frame):
        print(f"sweep: {signal.Signals(signum).name}: stopping the workers", file=sys.stderr)
        self.stopped = True
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def visible_gpus(environ: dict[str, str], count: int) -> list[str]:
    """The GPUs this process may hand out, as CUDA_VISIBLE_DEVICES names them: the user's own list when
    set (indices or GPU-/MIG- UUIDs), else 0..count-1. `count` is what CUDA sees through that list, and
    CUDA stops the list at its first invalid entry, so only the first `count` names are real."""
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    names = [n.strip() for n in listed.split(",")] if listed is not None else [str(i) for i in range(count)]
    return names[:count]


def worker_devices(workers: int, gpus: list[str]) -> list[str | None]:
    """Worker i's CUDA_VISIBLE_DEVICES: GPU i mod the number of GPUs (so it trains on its own, as
    cuda:0); None for every worker when there is no GPU (its environment is left alone)."""
    return [gpus[i % len(gpus)] if gpus else None for i in range(workers)]


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def worker_envs(env: dict[str, str], workers: int) -> list[dict[str, str]]:
    """Each worker's environment, its own GPU in it; one stderr line says which worker has which."""
    devices = worker_devices(workers, visible_gpus(env, gpu_count()))
    if devices and devices[0] is not None:
        shared = " (some share one)" if len(set(devices)) < workers else ""
        pairs = ", ".join(f"worker {i} -> GPU {d}" for i, d in enumerate(devices))
        print(f"sweep: {pairs}{shared} (CUDA_VISIBLE_DEVICES per worker)", file=sys.stderr)
    return [env if d is None else {**env, "CUDA_VISIBLE_DEVICES": d} for d in devices]


def run_workers(plan: SweepPlan, remaining: int, workers: int, deadline: float | None) -> int:
    """N local processes on the shared storage, each with an even share of the remaining trials and,
    on a machine with GPUs, a GPU of its own (round robin when there are more workers than GPUs)."""
    shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
    shares = [s for s in shares if s]
    import os

    import thrifty.version  # binds the package `thrifty` for its __file__, not its API (see thrifty/version.py)

    # Workers import this same thrifty (a source checkout may not be the installed one).
    src = str(Path(thrifty.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    # N workers x all-cores thread pools oversubscribe the CPU; on a busy 2-core machine that made
    # SmolLM2 training ~10x slower (2-3 vs ~28 tokens/s). Split the cores unless the user chose.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    envs = worker_envs(env, len(shares))
    procs = []
    with ForwardStops(procs) as stop:
        for i, share in enumerate(shares):
            if stop.stopped:  # a signal came while the workers were starting: start no more
                break
            command = [sys.executable, "-m", "thrifty.sweep.worker", plan.sweep_dir, str(share), str(i)]
            if deadline is not None:
                command.append(repr(deadline))
            # Their own session: a terminal's Ctrl-C reaches only this process, which tells each worker once.
            procs.append(subprocess.Popen(command, env=envs[i], start_new_session=True))
        codes = [p.wait() for p in procs]
    if any(codes):
        print(
            f"sweep: worker exit codes {codes}; rerun the same command to resume (after fixing an error)",
            file=sys.stderr,
        )
    return workers_exit(codes)

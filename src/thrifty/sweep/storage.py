"""Optuna storage: SQLite in the sweep folder by default, any SQLAlchemy URL for several machines.

Heartbeats let a surviving worker notice a trial whose worker died; `RetryHeartbeatStaleTrialCallback`
(Optuna 4.9+'s name for `RetryFailedTrialCallback`) then queues the same parameters again, so no trial is
silently lost; the retry continues the dead trial's run folder from its last checkpoint (objective.py).
"""

import warnings
from pathlib import Path

import optuna

from thrifty.errors import UserError

HEARTBEAT_SECONDS = 10  # a running trial writes a heartbeat this often
GRACE_SECONDS = 60  # after this long without one, its worker is taken for dead
MAX_RETRY = 2
# A blackholed server host otherwise hangs each connect for the OS's TCP timeout (minutes).
CONNECT_TIMEOUT_SECONDS = 10
TIMEOUT_ARG = {"psycopg2": "connect_timeout", "psycopg": "connect_timeout", "pg8000": "timeout"}
TIMEOUT_ARG |= {"pymysql": "connect_timeout", "mysqldb": "connect_timeout"}


def default_url(sweep_dir: Path) -> str:
    return f"sqlite:///{(sweep_dir / 'study.db').resolve()}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Connect (creating tables when new); an unreachable URL is a one-line user error."""
    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental; they are what we want
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=retry_callback(MAX_RETRY),
                engine_kwargs=engine_kwargs(url),
            )
    except Exception as exc:  # sqlalchemy raises many types (OperationalError, ArgumentError, import errors)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot open sweep storage {redact(url)}: {reason}; check the URL, the server and credentials"
        ) from None


def retry_callback(max_retry: int | None) -> optuna.storages.RetryHeartbeatStaleTrialCallback:
    """Optuna's retry of a failed trial (same values and user attrs, marked `failed_trial`). It keeps
    the eval-loss reports too: the retry resumes the same run, so its pruner must see them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=max_retry, inherit_intermediate_values=True
        )


def retried_trial_number(trial: optuna.trial.FrozenTrial) -> int | None:
    """The number of the first trial of the retry chain `trial` belongs to (None: not a retry)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def engine_kwargs(url: str) -> dict:
    """SQLAlchemy engine options: a connect timeout for the network drivers that take one."""
    from sqlalchemy.engine import make_url

    kwargs: dict = {"pool_pre_ping": True}
    arg = TIMEOUT_ARG.get(make_url(url).get_driver_name())
    if arg:
        kwargs["connect_args"] = {arg: CONNECT_TIMEOUT_SECONDS}
    return kwargs


def study_user_attrs(storage: optuna.storages.BaseStorage, name: str) -> dict | None:
    """The user attrs of study `name`, or None when the storage has no such study yet."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return storage.get_study_user_attrs(study_id)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def load_study(
    url: str | optuna.storages.BaseStorage, name: str, directions: list[str], sampler, pruner
) -> optuna.Study:
    """Create the study, or load it when it exists (an interrupted sweep resumes where it was)."""
    storage = open_storage(url) if isinstance(url, str) else url
    try:
        return optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            directions=directions,
            load_if_exists=True,
        )
    except ValueError as exc:  # e.g. an existing study with other directions
        raise UserError(f"study {name!r} in {redact(str(storage.url))}: {exc}") from None

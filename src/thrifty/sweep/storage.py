"""Optuna storage: SQLite in the sweep folder by default, any SQLAlchemy URL for several machines.

Heartbeats let a surviving worker notice a trial whose worker died; `RetryHeartbeatStaleTrialCallback`
(Optuna 4.9+'s name for `RetryFailedTrialCallback`) then queues the same parameters again, so no trial is silently lost.
"""

from pathlib import Path

import optuna

from thrifty.errors import UserError

HEARTBEAT_SECONDS = 10  # a running trial writes a heartbeat this often
GRACE_SECONDS = 60  # after this long without one, its worker is taken for dead
MAX_RETRY = 2


def default_url(sweep_dir: Path) -> str:
    return f"sqlite:///{(sweep_dir / 'study.db').resolve()}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Connect (creating tables when new); an unreachable URL is a one-line user error."""
    import warnings

    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental; they are what we want
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_RETRY
                ),
                engine_kwargs={"pool_pre_ping": True},
            )
    except Exception as exc:  # sqlalchemy raises many types (OperationalError, ArgumentError, import errors)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot open sweep storage {redact(url)}: {reason}; check the URL, the server and credentials"
        ) from None


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def load_study(url: str, name: str, directions: list[str], sampler, pruner) -> optuna.Study:
    """Create the study, or load it when it exists (an interrupted sweep resumes where it was)."""
    storage = open_storage(url)
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
        raise UserError(f"study {name!r} in {redact(url)}: {exc}") from None

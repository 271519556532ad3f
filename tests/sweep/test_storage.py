"""A trial whose worker died (no heartbeat) is failed and its parameters queued again."""

from datetime import timedelta

import optuna
from optuna.storages._rdb.models import TrialHeartbeatModel

from thrifty.sweep import storage


def age_heartbeat(study: optuna.Study, trial_id: int, seconds: float) -> None:
    """Move a trial's last heartbeat `seconds` into the past: a worker silent that long, without waiting.
    (Optuna stamps heartbeats with the database's clock, so no Python clock can be injected instead.)"""
    rdb = getattr(study._storage, "_backend", study._storage)  # optuna wraps the RDBStorage in a cache
    session = rdb.scoped_session()
    try:
        beat = TrialHeartbeatModel.where_trial_id(trial_id, session, for_update=True)
        beat.heartbeat -= timedelta(seconds=seconds)
        session.commit()
    finally:
        session.close()


def _study(tmp_path):
    sampler = optuna.samplers.RandomSampler(seed=0)
    return storage.load_study(storage.default_url(tmp_path), "s", ["minimize"], sampler, None)


def test_dead_workers_trial_is_retried(tmp_path):
    study = _study(tmp_path)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.record_heartbeat(trial._trial_id)  # the worker beat once, then "died"
    age_heartbeat(study, trial._trial_id, storage.GRACE_SECONDS + 5)
    optuna.storages.fail_stale_trials(study)
    states = [t.state.name for t in study.get_trials()]
    assert states == ["FAIL", "WAITING"]
    retry = study.get_trials()[1]
    assert retry.params == trial.params and retry.system_attrs["failed_trial"] == trial.number
    # Reopening the same URL resumes the same study (load_if_exists).
    assert len(_study(tmp_path).get_trials()) == 2


def test_a_live_workers_trial_is_left_running(tmp_path):
    study = _study(tmp_path)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.record_heartbeat(trial._trial_id)
    # Silent for less than the grace period (its heartbeats come every HEARTBEAT_SECONDS): not dead.
    age_heartbeat(study, trial._trial_id, storage.GRACE_SECONDS - 2 * storage.HEARTBEAT_SECONDS)
    optuna.storages.fail_stale_trials(study)
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]


def test_server_urls_get_a_connect_timeout():
    # Without one, a blackholed host hangs each connect for the OS's TCP timeout (minutes).
    for url in ("postgresql://u@db.example/x", "postgresql+psycopg2://u@h/x", "mysql+pymysql://u@h/x"):
        assert storage.engine_kwargs(url)["connect_args"] == {
            "connect_timeout": storage.CONNECT_TIMEOUT_SECONDS
        }
    assert storage.engine_kwargs("postgresql+pg8000://u@h/x")["connect_args"] == {"timeout": 10}
    assert "connect_args" not in storage.engine_kwargs("sqlite:///x.db")

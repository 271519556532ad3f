"""A trial whose worker died (no heartbeat) is failed and its parameters queued again."""

import time

import optuna

from thrifty.sweep import storage


def test_dead_workers_trial_is_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage, "GRACE_SECONDS", 1)
    url = storage.default_url(tmp_path)
    study = storage.load_study(url, "s", ["minimize"], optuna.samplers.RandomSampler(seed=0), None)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.record_heartbeat(trial._trial_id)  # the worker beat once, then "died"
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    states = [t.state.name for t in study.get_trials()]
    assert states == ["FAIL", "WAITING"]
    retry = study.get_trials()[1]
    assert retry.params == trial.params and retry.system_attrs["failed_trial"] == trial.number
    # Reopening the same URL resumes the same study (load_if_exists).
    again = storage.load_study(url, "s", ["minimize"], optuna.samplers.RandomSampler(seed=0), None)
    assert len(again.get_trials()) == 2


def test_server_urls_get_a_connect_timeout():
    # Without one, a blackholed host hangs each connect for the OS's TCP timeout (minutes).
    for url in ("postgresql://u@db.example/x", "postgresql+psycopg2://u@h/x", "mysql+pymysql://u@h/x"):
        assert storage.engine_kwargs(url)["connect_args"] == {
            "connect_timeout": storage.CONNECT_TIMEOUT_SECONDS
        }
    assert storage.engine_kwargs("postgresql+pg8000://u@h/x")["connect_args"] == {"timeout": 10}
    assert "connect_args" not in storage.engine_kwargs("sqlite:///x.db")

"""The search space and samplers: validation errors, grid points, Latin hypercube strata."""

import json
import math

import optuna
import pytest

from thrifty.cli import main
from thrifty.errors import UserError
from thrifty.sweep.objective import suggest
from thrifty.sweep.samplers import DesignSampler, from_unit, make_sampler
from thrifty.sweep.space import grid_configs, parse_space


def test_unknown_field_lists_the_valid_ones():
    with pytest.raises(UserError) as err:
        parse_space({"method.rnak": {"choices": [4, 8]}})
    assert "method.rnak" in str(err.value) and "method.rank" in str(err.value)


@pytest.mark.parametrize(
    "space, needle",
    [
        ({}, "empty"),
        ({"train.learning_rate": {"low": 1e-3, "high": 1e-4}}, "must be below"),
        ({"train.learning_rate": {"low": 0.0, "high": 1e-3, "log": True}}, "low > 0"),
        ({"method.rank": {"choices": []}}, "non-empty"),
        ({"method.rank": {"low": 4}}, "both low and high"),
        ({"method.rank": {"low": 4, "high": 8, "step": 10}}, "step"),
    ],
)
def test_bad_spaces_are_user_errors(space, needle):
    with pytest.raises(UserError, match=needle):
        parse_space(space)


def test_cli_bad_space_is_one_line_exit_2(sweep_file, capsys):
    path = sweep_file({"sampler": "random", "trials": 2, "space": {"method.rank": {"choices": [0, 8]}}})
    assert main(["sweep", str(path), "--output", str(path.parent / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: sweep.space.method.rank=0") and "rank" in err[0]


def test_cli_grid_needs_discrete_ranges(sweep_file, capsys):
    path = sweep_file({"sampler": "grid", "space": {"train.learning_rate": {"low": 1e-4, "high": 1e-3}}})
    assert main(["sweep", str(path), "--output", str(path.parent / "out")]) == 2
    assert "grid sampler needs choices or a step" in capsys.readouterr().err


def test_grid_points_cover_the_product():
    space = parse_space(
        {
            "method.rank": {"choices": [4, 8, 16]},
            "method.dropout": {"low": 0.0, "high": 0.2, "step": 0.1},
            "method.target_modules": {"choices": [["q_proj", "v_proj"], "all-linear"]},
        }
    )
    configs = grid_configs(space)
    assert len(configs) == 3 * 3 * 2
    assert {c["method.dropout"] for c in configs} == {0.0, 0.1, 0.2}
    assert {c["method.target_modules"] for c in configs} == {'["q_proj", "v_proj"]', "all-linear"}


def test_lhs_puts_one_sample_in_each_stratum_of_each_dimension():
    n = 10
    space = parse_space(
        {
            "train.learning_rate": {"low": 1e-5, "high": 1e-2, "log": True},
            "method.dropout": {"low": 0.0, "high": 0.5},
            "method.rank": {"low": 1, "high": 10},
            "method.alpha": {"choices": [8, 16, 32, 64, 128]},
        }
    )
    study = optuna.create_study(sampler=DesignSampler(space, n, seed=3))
    study.optimize(lambda t: sum(float(suggest(t, k, d)) for k, d in space.items()), n_trials=n)
    params = [t.params for t in study.trials]
    lr = sorted(math.log10(p["train.learning_rate"]) for p in params)
    assert [int((x + 5) / 3 * n) for x in lr] == list(range(n))  # one per tenth of the log range
    assert sorted(int(p["method.dropout"] / 0.5 * n) for p in params) == list(range(n))
    assert sorted(p["method.rank"] for p in params) == list(range(1, 11))  # 10 values, 10 strata
    assert sorted(p["method.alpha"] for p in params) == sorted([8, 16, 32, 64, 128] * 2)
    # Seeded: the same seed gives the same design; another seed a different one.
    again = DesignSampler(space, n, seed=3).design()
    assert (again == study.sampler.design()).all()
    assert not (DesignSampler(space, n, seed=4).design() == again).all()


def test_lhs_retried_trial_takes_no_row_so_no_stratum_stays_empty():
    n = 6
    space = parse_space({"method.dropout": {"low": 0.0, "high": 0.6}})
    study = optuna.create_study(sampler=DesignSampler(space, n, seed=1))
    study.optimize(lambda t: float(suggest(t, "method.dropout", space["method.dropout"])), n_trials=2)
    study.enqueue_trial(study.trials[1].params)  # what a retry after a crash or SIGTERM does
    study.optimize(lambda t: float(suggest(t, "method.dropout", space["method.dropout"])), n_trials=n - 1)
    sampled = [t.params["method.dropout"] for t in study.trials if "fixed_params" not in t.system_attrs]
    assert len(sampled) == n
    assert sorted(int(x / 0.6 * n) for x in sampled) == list(range(n))


def test_from_unit_maps_edges_into_the_range():
    space = parse_space(
        {
            "method.rank": {"low": 4, "high": 64, "log": True},
            "train.epochs": {"low": 1.0, "high": 3.0, "step": 0.5},
        }
    )
    rank, epochs = space["method.rank"], space["train.epochs"]
    assert from_unit(0.0, rank) == 4 and from_unit(0.999999, rank) == 64
    assert [from_unit(u, epochs) for u in (0.0, 0.2, 0.5, 0.99)] == [1.0, 1.5, 2.0, 3.0]


@pytest.mark.parametrize("name", ["random", "sobol", "tpe", "lhs"])
def test_samplers_are_seeded(name):
    space = parse_space(
        {"train.learning_rate": {"low": 1e-5, "high": 1e-2, "log": True}, "method.rank": {"choices": [4, 8]}}
    )

    def run():
        study = optuna.create_study(sampler=make_sampler(name, space, 6, seed=7))
        study.optimize(lambda t: sum(hash(str(suggest(t, k, d))) % 7 for k, d in space.items()), n_trials=6)
        return [t.params for t in study.trials]

    assert run() == run()


SOBOL_SPACE = {
    "train.learning_rate": {"low": 1e-5, "high": 1e-2, "log": True},
    "method.dropout": {"low": 0.0, "high": 0.5},
}


def _two_workers_sobol(storage_url: str, per_worker: int) -> list[dict]:
    """Two workers' samplers on one storage, each running a trial at the same time, as `--workers 2` does."""
    space = parse_space(SOBOL_SPACE)
    studies = [
        optuna.create_study(
            study_name="s",
            storage=storage_url,
            load_if_exists=True,
            sampler=make_sampler("sobol", space, 8, 5, w),
        )
        for w in (0, 1)
    ]
    for _ in range(per_worker):
        trials = [study.ask() for study in studies]  # both workers start a trial at the same time
        values = [sum(float(suggest(t, k, d)) for k, d in space.items()) for t in trials]
        for study, trial, value in zip(studies, trials, values, strict=True):
            study.tell(trial, value)
    return [t.params for t in studies[0].get_trials()]


def test_sobol_workers_take_distinct_points_reproducibly(tmp_path):
    first = _two_workers_sobol(f"sqlite:///{tmp_path / 'a.db'}", 4)
    assert len(first) == 8 and len({json.dumps(p, sort_keys=True) for p in first}) == 8
    assert _two_workers_sobol(f"sqlite:///{tmp_path / 'b.db'}", 4) == first  # same seed, same points
    # Trial k is point k of the seeded scrambled Sobol sequence (Optuna's QMCSampler drew trial 0 at random).
    from scipy.stats import qmc

    space = parse_space(SOBOL_SPACE)
    units = qmc.Sobol(d=2, scramble=True, seed=5).random_base2(3)
    expected = [{k: from_unit(u, d) for (k, d), u in zip(space.items(), row, strict=True)} for row in units]
    assert first == expected


def test_sobol_continues_its_sequence_past_the_design_size():
    space = parse_space({"method.dropout": {"low": 0.0, "high": 0.5}})
    short, long = (
        DesignSampler(space, 4, seed=2, engine="sobol"),
        DesignSampler(space, 16, seed=2, engine="sobol"),
    )
    assert all((short.point(k) == long.point(k)).all() for k in range(12))
    assert len({float(short.point(k)[0]) for k in range(12)}) == 12

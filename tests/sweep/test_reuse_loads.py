"""A sweep worker loads the base once for all its trials (sweep.reuse_loads), with the same results."""

import thrifty.models.load
from thrifty.cli import main
from thrifty.sweep.results import read_rows


def test_trials_copying_one_loaded_base_match_trials_that_load_it(sweep_file, monkeypatch):
    loads = []
    real = thrifty.models.load.load_model

    def counted(*args, **kwargs):
        loads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(thrifty.models.load, "load_model", counted)
    space = {"method.rank": {"choices": [2, 4]}, "train.learning_rate": {"choices": [1e-2]}}
    results = {}
    for reuse in (True, False):
        path = sweep_file({"sampler": "grid", "space": space, "reuse_loads": reuse}, name=f"{reuse}.yaml")
        out = path.parent / f"reuse-{reuse}"
        before = len(loads)
        assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
        rows = read_rows(out / "results.jsonl")
        results[reuse] = {r["params"]["method.rank"]: (r["eval_loss"], r["tokens"]) for r in rows}
        assert len(loads) - before == (1 if reuse else 2)  # two trials; with reuse the second copies
    assert results[True] == results[False] and len(results[True]) == 2

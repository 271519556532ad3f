"""`thrifty data select`: check everything, score the pool with the model (cached), let the strategy pick,
then write the picked rows (input format and columns; unlabelled rows with an empty answer to fill in)
and, last, OUTPUT-stem.select.json with every row's scores and the picks."""

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thrifty.curate.rows import check_fraction, check_output, check_positive, sibling, write_records
from thrifty.curate.select.pool import Pool, read_pool
from thrifty.curate.select.strategies import Scores, Strategy, get_strategy
from thrifty.errors import UserError

DEFAULT_MODEL = "smollm2-135m"


@dataclass
class SelectOptions:
    pool: str
    output: str
    k: int | None = None
    fraction: float | None = None  # (0, 1]: rounded, at least 1 row
    strategy: str = "loss+diversity"
    model: str = DEFAULT_MODEL  # bundled name, model folder, hub id or a `thrifty train` run folder
    format: str = "auto"
    seed: int = 0
    batch_size: int = 8
    max_seq_len: int = 512  # tokens per scored row, as training would cut it
    max_new_tokens: int = 32  # of the model's own answer, for entropy
    system_prompt: str | None = None
    trust_remote_code: bool = False
    device: str = "auto"
    progress: bool = True


@dataclass
class SelectResult:
    output: str
    scores_file: str
    strategy: str
    pool_rows: int
    selected: int
    unlabelled_selected: int  # picked rows with no answer yet: fill them in, then train
    mean_score_selected: float | None
    mean_score_pool: float | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def select(options: SelectOptions) -> SelectResult:
    started = time.perf_counter()
    strategy, pool, k, output = check(options)
    scores = score_pool(pool, strategy, options)
    picked = sorted(strategy.pick(scores, k, options.seed))
    assert len(set(picked)) == k, f"strategy {strategy.name} picked {len(set(picked))} distinct rows, not {k}"
    table = pool.table
    write_records(output, [table.records[i] for i in picked], table.columns())
    result = summarize(options, pool, scores, picked, output, time.perf_counter() - started)
    write_scores(Path(result.scores_file), options, scores, picked, result)  # last: the job is done
    return result


def check(options: SelectOptions) -> tuple[Strategy, Pool, int, Path]:
    """Every refusal before a model loads or a file is written."""
    if (options.k is None) == (options.fraction is None):
        raise UserError("pass one of --k N (rows) or --fraction F (a share of the pool)")
    check_positive("--k", options.k)
    check_fraction("--fraction", options.fraction)
    for flag, value in (("--batch-size", options.batch_size), ("--max-new-tokens", options.max_new_tokens)):
        check_positive(flag, value)
    strategy = get_strategy(options.strategy)
    output = check_output(options.output, [options.pool])
    pool = read_pool(options.pool, options.format)
    n = len(pool.table)
    k = options.k if options.k is not None else max(1, round(n * options.fraction))
    if k > n:
        raise UserError(f"--k {k} is more than the pool's {n} rows ({pool.table.path}); ask for at most {n}")
    if "loss" in strategy.needs and not pool.all_labelled:
        missing = pool.labelled.count(False)
        raise UserError(
            f"{pool.table.path}: --strategy {strategy.name} scores answers, but {missing} rows have none; "
            "use --strategy uncertainty (or loss+diversity, which falls back to it)"
        )
    return strategy, pool, k, output


def score_pool(pool: Pool, strategy: Strategy, options: SelectOptions) -> Scores:
    """The scores the strategy needs, from the model (loaded only when one is needed)."""
    n = len(pool.table)
    needs = set(strategy.needs)
    if "difficulty" in needs:
        needs.add("loss" if pool.all_labelled else "entropy")
    if not needs & {"loss", "entropy", "hidden"}:
        return Scores(n)
    from thrifty.curate.select.scoring import PoolScorer

    scorer = PoolScorer.load(pool, options)
    return Scores(
        n,
        loss=scorer.losses() if "loss" in needs else None,
        entropy=scorer.entropies() if "entropy" in needs else None,
        hidden=scorer.hidden() if "hidden" in needs else None,
    )


def summarize(options, pool: Pool, scores: Scores, picked: list[int], output: Path, seconds: float):
    values = scores.loss if scores.loss is not None else scores.entropy
    mean = _mean_of(values, picked), _mean_of(values, range(len(pool.table)))
    return SelectResult(
        output=str(output),
        scores_file=str(sibling(output, "select.json")),
        strategy=options.strategy,
        pool_rows=len(pool.table),
        selected=len(picked),
        unlabelled_selected=sum(not pool.labelled[i] for i in picked),
        mean_score_selected=mean[0],
        mean_score_pool=mean[1],
        seconds=round(seconds, 3),
    )


def _mean_of(values: list[float] | None, rows) -> float | None:
    if values is None:
        return None
    picked = [values[i] for i in rows if values[i] == values[i]]  # NaN: nothing to score
    return round(sum(picked) / len(picked), 4) if picked else None


def write_scores(path: Path, options: SelectOptions, scores: Scores, picked: list[int], result) -> None:
    from thrifty.io import write_json_atomic

    write_json_atomic(
        path,
        {
            **result.as_dict(),
            "pool": options.pool,
            "model": options.model,
            "seed": options.seed,
            "selected_rows": picked,  # row numbers in the pool, from 0
            "loss": scores.loss,  # per pool row, nats/token; null where not scored
            "entropy": scores.entropy,
        },
    )

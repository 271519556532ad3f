"""EleutherAI's lm-evaluation-harness on the run's model: its own tasks, or local ones from YAML task files
(`--lm-eval-include DIR`), so a benchmark runs next to thrifty's metrics without leaving the run folder."""

from pathlib import Path

from thrifty.errors import UserError
from thrifty.inference.run_folder import RunFolder, base_model_path


def check_installed() -> None:
    """lm-eval is an optional extra: say which one before any model is loaded, not a traceback after."""
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise UserError(
            "--lm-eval needs lm-evaluation-harness, which is not installed: pip install 'thrifty[lm-eval]'"
        ) from None


def run_lm_eval(
    run: RunFolder,
    tasks: list[str],
    include: str | None = None,
    batch_size: int = 8,
    limit: int | None = None,
    compare_base: bool = False,
    manager=None,
    device: str = "cpu",
) -> dict[str, dict[str, dict[str, float]]]:
    """{"fine_tuned": {task: {metric: value}}, "base": ...}: the fine-tuned model through lm-eval's own
    loading (base + `peft` adapter, or the saved whole model), and the base too with `compare_base`.
    `manager`: the task manager `task_manager` already built (it checked the task names); `device`: where
    lm-eval puts the model (thrifty.inference.device.choose_device)."""
    check_installed()
    manager = manager or task_manager(tasks, include)
    out = {"fine_tuned": _evaluate(run, manager, tasks, batch_size, limit, device, base=False)}
    if compare_base:
        out["base"] = _evaluate(run, manager, tasks, batch_size, limit, device, base=True)
    return out


def task_manager(tasks: list[str], include: str | None):
    """lm-eval's task index holding every task asked for; an unknown name is a one-line error."""
    from lm_eval.tasks import TaskManager

    if include and not Path(include).is_dir():
        raise UserError(f"--lm-eval-include {include}: not a folder of lm-eval task YAML files")
    # Indexing the thousands of built-in task files takes tens of seconds: skip it when the local
    # folder has every task asked for.
    manager = TaskManager(include_path=include, include_defaults=False) if include else None
    if manager is None or any(t not in manager.all_tasks for t in tasks):
        manager = TaskManager(include_path=include)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise UserError(
            f"lm-eval task(s) {', '.join(unknown)} not found; list them with `lm-eval ls tasks`, "
            "or pass --lm-eval-include DIR with your own task YAML files"
        )
    return manager


def _evaluate(
    run: RunFolder, manager, tasks: list[str], batch_size: int, limit: int | None, device: str, base: bool
):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    pretrained = str(run.model_dir) if run.model_dir is not None and not base else base_model_path(run)
    adapter = str(run.adapter_dir) if run.adapter_dir is not None and not base else None
    model = HFLM(
        pretrained=pretrained,
        peft=adapter,
        tokenizer=str(run.tokenizer_dir),
        device=device,
        dtype=run.config.model.dtype,
        batch_size=batch_size,
        trust_remote_code=run.config.model.trust_remote_code,  # the flag's value (open_run), never the folder's
    )
    results = simple_evaluate(
        model=model, tasks=tasks, task_manager=manager, limit=limit, log_samples=False, bootstrap_iters=0
    )
    # lm-eval names metrics "acc,none" (metric, filter); the filter is "none" for plain tasks.
    return {
        task: {
            k.removesuffix(",none"): float(v)
            for k, v in scores.items()
            if isinstance(v, int | float) and "stderr" not in k and k != "sample_len"
        }
        for task, scores in results["results"].items()
    }

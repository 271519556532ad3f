"""The page handlers: Runs, one run, a sweep, a comparison, and the start/stop/resume actions."""

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from thrifty.errors import UserError
from thrifty.ui import comparisons, sweeps
from thrifty.ui.folders import find, locate, read_jsonl
from thrifty.ui.runs import metrics_series, priced_gpus, run_detail, run_row
from thrifty.ui.security import inside
from thrifty.ui.status import live_trainers


def render(ui, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    context.update(request=request, csrf=ui.csrf, root=str(ui.root))
    return ui.templates.TemplateResponse(request, template, context, status_code=status_code)


async def runs_page(ui, request: Request) -> Response:
    gpu = request.query_params.get("gpu") or None
    gpus = priced_gpus()
    if gpu not in gpus:
        gpu = None
    live = live_trainers()
    folders = find(ui.root)
    rows = [run_row(f, ui.launcher.status(f.path, live), gpu) for f in folders if f.kind == "train"]
    others = [f for f in folders if f.kind != "train"]
    return render(ui, request, "runs.html", rows=rows, others=others, gpu=gpu, gpus=gpus)


async def run_page(ui, request: Request) -> Response:
    folder = locate(ui.root, request.query_params.get("path", ""), "train", ui.launcher.started)
    status = ui.launcher.status(folder.path)
    row = run_row(folder, status, None)
    series = metrics_series(read_jsonl(folder.path / "metrics.jsonl"))
    detail = run_detail(folder)
    log = ui.launcher.log_tail(folder.path)
    return render(
        ui, request, "run.html", folder=folder, status=status, row=row, series=series, log=log, **detail
    )


async def sweep_page(ui, request: Request) -> Response:
    folder = locate(ui.root, request.query_params.get("path", ""), "sweep")
    return render(ui, request, "sweep.html", folder=folder, **sweeps.sweep_view(folder.path, ui.root))


async def compare_page(ui, request: Request) -> Response:
    folder = locate(ui.root, request.query_params.get("path", ""), "compare")
    return render(
        ui, request, "compare.html", folder=folder, **comparisons.compare_view(folder.path, ui.root)
    )


async def new_page(ui, request: Request) -> Response:
    """GET: the form. POST: the CLI's validation, then `thrifty train` in a subprocess; the run page."""
    from thrifty.ui.form import form_sections, overrides_from, validate_start

    sections = form_sections()
    if request.method == "GET":
        return render(ui, request, "new.html", sections=sections, error=None, values={}, run_name="")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    name = form.get("_run", "").strip()
    try:
        run_dir = _new_run_dir(ui.root, name)
        overrides = overrides_from(form)
        validate_start([*overrides, f"output.dir={run_dir}"])
    except UserError as exc:
        values = {k: v for k, v in form.items() if not k.startswith("_")}
        return render(
            ui, request, "new.html", 400, sections=sections, error=str(exc), values=values, run_name=name
        )
    ui.launcher.train(run_dir, overrides)
    return RedirectResponse(f"/run?path={_q(run_dir.relative_to(ui.root).as_posix())}", status_code=303)


def _new_run_dir(root: Path, name: str) -> Path:
    """A new folder for the run, inside the runs folder (the CLI refuses a finished or foreign one too)."""
    from thrifty.ui.security import PathRefused

    if not name:
        raise UserError("run folder: give the new run a folder name, e.g. my-first-run")
    try:
        run_dir = inside(root, name)
    except PathRefused:
        raise UserError(
            f"run folder {name!r}: must be a name inside {root} (no '..', not absolute)"
        ) from None
    if run_dir.exists():
        raise UserError(f"run folder {name!r} already exists in {root}; choose another name")
    return run_dir


async def stop_action(ui, request: Request) -> Response:
    folder = locate(ui.root, request.query_params.get("path", ""), "train", ui.launcher.started)
    try:
        ui.launcher.stop(folder.path)
    except UserError:
        pass  # it ended meanwhile: the run page says how
    return RedirectResponse(f"/run?path={_q(folder.rel)}", status_code=303)


async def resume_action(ui, request: Request) -> Response:
    folder = locate(ui.root, request.query_params.get("path", ""), "train", ui.launcher.started)
    try:
        ui.launcher.resume(folder.path)
    except UserError as exc:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(f"error: {exc}", status_code=409)
    return RedirectResponse(f"/run?path={_q(folder.rel)}", status_code=303)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")

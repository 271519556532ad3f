"""The Starlette application: routes, templates, the security middleware, and the live metrics stream."""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from thrifty.ui import pages
from thrifty.ui.actions import Launcher
from thrifty.ui.folders import locate
from thrifty.ui.security import PathRefused, TokenGate, inside, new_secret, same_secret

STATIC = Path(__file__).parent / "static"
IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
POLL_S = 0.5  # seconds between looks at metrics.jsonl while streaming; a training step takes longer
# Strict: scripts and styles only from this server (no inline script, so injected markup cannot run).
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"


@dataclass
class UI:
    root: Path
    launcher: Launcher
    csrf: str  # one per server start, in every form; an action without it is refused
    templates: Jinja2Templates


def build_app(root: Path, token: str | None) -> Starlette:
    root = Path(root).resolve()
    # Autoescape on for every template: run names, configs and model answers are user text.
    env = Environment(loader=PackageLoader("thrifty.ui", "templates"), autoescape=True)
    ui = UI(root, Launcher(root), new_secret(), Jinja2Templates(env=env))
    routes = [
        Route("/", _page(ui, pages.runs_page)),
        Route("/run", _page(ui, pages.run_page)),
        Route("/sweep", _page(ui, pages.sweep_page)),
        Route("/compare", _page(ui, pages.compare_page)),
        Route("/new", _page(ui, pages.new_page), methods=["GET", "POST"]),
        Route("/stop", _page(ui, pages.stop_action), methods=["POST"]),
        Route("/resume", _page(ui, pages.resume_action), methods=["POST"]),
        Route("/file", _page(ui, serve_image)),
        Route("/stream", _page(ui, stream)),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(Headers), Middleware(TokenGate, token=token)]
    return Starlette(routes=routes, middleware=middleware)


def _page(ui: UI, handler):
    """Shared refusals: a path outside the runs folder is 400, a POST without the CSRF token 403."""

    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "POST":
                form = await request.form()
                if not same_secret(form.get("_csrf"), ui.csrf):
                    return PlainTextResponse("forbidden: missing or wrong CSRF token", status_code=403)
            return await handler(ui, request)
        except PathRefused:
            return PlainTextResponse("refused: the path is outside the runs folder", status_code=400)
        except FileNotFoundError as exc:
            return PlainTextResponse(f"not found: {exc}", status_code=404)

    return endpoint


async def serve_image(ui: UI, request: Request) -> Response:
    """Plots thrifty wrote (sweep and compare PNGs): images only, inside the runs folder."""
    path = inside(ui.root, request.query_params.get("path", ""))
    if path.suffix.lower() not in IMAGES or not path.is_file():
        raise FileNotFoundError(request.query_params.get("path"))
    return FileResponse(path, media_type=IMAGES[path.suffix.lower()])


async def stream(ui: UI, request: Request) -> Response:
    """Server-Sent Events: each metrics.jsonl line as it is written (`metric`), `reset` when the file
    starts over (a resume rewrites it as of its checkpoint), and the run's status when it changes."""
    from sse_starlette.sse import EventSourceResponse

    folder = locate(ui.root, request.query_params.get("path", ""), "train", ui.launcher.started)
    return EventSourceResponse(_events(ui, folder.path), ping=15)


async def _events(ui: UI, run_dir: Path):
    path, offset, pending, last_status = run_dir / "metrics.jsonl", 0, b"", None
    while True:
        size = path.stat().st_size if path.is_file() else 0
        if size < offset:
            offset, pending = 0, b""
            yield {"event": "reset", "data": "{}"}
        if size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(size - offset)
            offset = size
            *lines, pending = (pending + chunk).split(b"\n")  # the last piece may be a half-written line
            for line in lines:
                if line.strip():
                    yield {"event": "metric", "data": line.decode("utf-8", "replace")}
        status = await asyncio.to_thread(ui.launcher.status, run_dir)
        now = {"status": status.name, "detail": status.detail, "resumable": status.resumable}
        now["facts"] = facts(run_dir)  # a run started from the page has no config.yaml when it opens
        if now != last_status:
            last_status = now
            yield {"event": "status", "data": json.dumps(now)}
        await asyncio.sleep(POLL_S)


def facts(run_dir: Path) -> dict[str, object]:
    """Model, method, objective and max_steps from the run's config.yaml (empty until it is written)."""
    from thrifty.ui.folders import read_config

    config = read_config(run_dir)
    return {
        "model": (config.get("model") or {}).get("name"),
        "method": (config.get("method") or {}).get("name"),
        "objective": (config.get("train") or {}).get("objective"),
        "max_steps": (config.get("train") or {}).get("max_steps"),
    }


class Headers:
    """Security headers on every response: the CSP above, no framing, no MIME sniffing, no referrer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with(message):
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with)

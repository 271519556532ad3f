"""Who may reach the page and which files it may read: loopback by default, a token from a file for any
other host, CSRF tokens on every action, and browser paths kept inside the runs folder."""

import hmac
import ipaddress
import secrets
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlencode

from thrifty.errors import UserError

COOKIE = "thrifty_ui_token"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only processes on this machine can connect."""
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(path: str | None) -> str | None:
    """The token in `path` (first line, whitespace stripped); one-line errors for a bad file."""
    if path is None:
        return None
    file = Path(path).expanduser()
    try:
        token = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--token-file {file}: cannot read it ({exc.__class__.__name__})") from None
    # 16 characters of a random alphabet are ~95 bits: enough against guessing over the network.
    if len(token) < 16:
        raise UserError(
            f"--token-file {file}: the token must be at least 16 characters; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE`"
        )
    return token


def check_bind(host: str, token: str | None) -> None:
    """Refuse, before binding, a host other machines can reach when there is no token."""
    if not is_loopback(host) and token is None:
        raise UserError(
            f"--host {host} is reachable from other machines: pass --token-file FILE (or bind 127.0.0.1 "
            "and use `ssh -L 7860:127.0.0.1:7860 HOST`)"
        )


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing says nothing about how much of a guess was right."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class TokenGate:
    """ASGI middleware: every request (pages, files, the live stream) carries the token in an
    `Authorization: Bearer` header or the cookie; a first visit with `?token=` sets the cookie and
    redirects to the same address without it (so the token leaves the address bar and history).

    Without a token (loopback only) it checks the Host header instead: a web page on another site that
    points its own name at 127.0.0.1 (DNS rebinding) sends its own name and is refused."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token is None:
            if is_loopback(host_name(headers.get("host", ""))):
                return await self.app(scope, receive, send)
            return await _plain(send, 403, "forbidden: this page answers only to 127.0.0.1 or localhost")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            if not same_secret(query.pop("token"), self.token):
                return await _plain(send, 401, "unauthorized: wrong token")
            location = scope["path"] + ("?" + urlencode(query) if query else "")
            cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            return await _plain(send, 303, "", [("location", location), ("set-cookie", cookie)])
        bearer = headers.get("authorization", "")
        given = bearer[7:] if bearer.lower().startswith("bearer ") else _cookie(headers.get("cookie", ""))
        if not same_secret(given, self.token):
            return await _plain(send, 401, "unauthorized: open the page once with ?token=YOUR_TOKEN")
        return await self.app(scope, receive, send)


def host_name(header: str) -> str:
    """The name in a Host header: `127.0.0.1:7860` -> 127.0.0.1, `[::1]:7860` -> ::1."""
    if header.startswith("["):
        return header[1:].split("]")[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


async def _plain(send, status: int, text: str, extra: list[tuple[str, str]] = ()) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PathRefused(Exception):
    """A browser-supplied path that points outside the runs folder."""


def inside(root: Path, rel: str) -> Path:
    """`rel` (a path the browser sent, relative to the runs folder) resolved, provided it stays inside
    `root`: no absolute paths, no `..` parts, and no symlink that leads out (checked after resolving)."""
    if not rel or "\x00" in rel or "\\" in rel:
        raise PathRefused(rel)
    parts = PurePosixPath(rel).parts
    if PurePosixPath(rel).is_absolute() or any(p == ".." for p in parts):
        raise PathRefused(rel)
    base = root.resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise PathRefused(rel)
    return target

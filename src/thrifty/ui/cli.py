"""`thrifty ui`: arguments and the function they map to."""

import argparse

DEFAULT_PORT = 7860  # the port Gradio-based boards use, so an existing `ssh -L 7860:...` habit works


def add_parser(verbs) -> None:
    ui = verbs.add_parser(
        "ui",
        help="A local web page over runs, sweeps and comparisons, with live curves and start/stop/resume.",
        description="Serve a web page over everything thrifty wrote under --runs: runs (live loss curves), "
        "sweeps, comparisons; start, stop and resume training runs. Binds 127.0.0.1: from another machine "
        "use `ssh -L 7860:127.0.0.1:7860 HOST`, or bind another --host with --token-file. Ctrl-C stops it.",
    )
    ui.add_argument(
        "--runs", default="runs", help="Folder of runs, sweeps and comparisons (default: ./runs)."
    )
    ui.add_argument(
        "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1, this machine only)."
    )
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}).")
    ui.add_argument(
        "--token-file",
        help="File holding the access token (16+ characters); required for any --host but loopback. "
        "Open the page once as http://HOST:PORT/?token=TOKEN.",
    )
    ui.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from thrifty.errors import UserError
    from thrifty.ui.security import check_bind, read_token

    token = read_token(args.token_file)
    check_bind(args.host, token)
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: must be 1-65535")
    root = Path(args.runs)
    if root.exists() and not root.is_dir():
        raise UserError(f"--runs {root} is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    import uvicorn

    from thrifty.ui.app import build_app

    sock = _bind(args.host, args.port)  # before uvicorn, so "in use" is one line, not a log record
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"thrifty ui: http://{host}:{args.port}/ over {root.resolve()} (Ctrl-C stops it)", flush=True)
    server = uvicorn.Server(uvicorn.Config(build_app(root, token), log_level="warning"))
    server.run(sockets=[sock])
    return 0


def _bind(host: str, port: int):
    import socket

    from thrifty.errors import UserError

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another --port or --host"
        ) from None
    return sock

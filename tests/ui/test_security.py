"""Security without a browser (Starlette's TestClient): the token gate, the Host check, CSRF on every
action, browser paths kept inside the runs folder, and user text escaped."""

import json
import os
import re

import pytest
from starlette.testclient import TestClient

from tests.ui.conftest import EVIL
from tests.ui.fakes import fake_run
from thrifty.errors import UserError
from thrifty.ui.app import build_app
from thrifty.ui.security import PathRefused, check_bind, inside, read_token

LOCAL = "http://127.0.0.1:7860"
TOKEN = "s3cret-token-0123456789"


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "done")
    fake_run(root, "stopped", finished=False, checkpoint=2)
    return root


def client(root, token=None, base=LOCAL) -> TestClient:
    return TestClient(build_app(root, token), base_url=base, follow_redirects=False)


def test_paths_outside_the_runs_folder_are_refused(runs, tmp_path):
    outside = tmp_path / "secret"
    fake_run(outside, "run")
    (runs / "link").symlink_to(outside / "run")  # a symlink that leads out of the runs folder
    (outside / "plot.png").write_bytes(b"\x89PNG")
    (runs / "plot-link.png").symlink_to(outside / "plot.png")
    c = client(runs)
    for bad in ["../secret/run", "done/../../secret/run", "/etc", str(outside / "run"), "link", "a\\..\\b"]:
        for route in ("/run", "/stream", "/file"):
            response = c.get(route, params={"path": bad})
            assert response.status_code == 400, (route, bad)
            assert "outside the runs folder" in response.text
    assert c.get("/file", params={"path": "plot-link.png"}).status_code == 400
    assert c.get("/run", params={"path": "done"}).status_code == 200
    assert c.get("/run", params={"path": "nothing-here"}).status_code == 404
    assert c.get("/file", params={"path": "done/config.yaml"}).status_code == 404  # images only
    with pytest.raises(PathRefused):
        inside(runs, "done/../..")
    assert inside(runs, "done/checkpoints") == (runs / "done" / "checkpoints").resolve()


def test_actions_need_post_and_the_csrf_token(runs):
    c = client(runs)
    page = c.get("/run", params={"path": "stopped"}).text
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    assert c.get("/resume", params={"path": "stopped"}).status_code == 405  # GET never acts
    for form in ({}, {"_csrf": "wrong"}, {"_csrf": csrf[:-1]}):
        response = c.post("/resume", params={"path": "stopped"}, data=form)
        assert response.status_code == 403 and "CSRF" in response.text
        assert c.post("/stop", params={"path": "done"}, data=form).status_code == 403
        assert c.post("/new", data={**form, "_run": "x"}).status_code == 403
    assert not (runs / ".thrifty-ui").exists()  # nothing was started
    # With the token the action goes through to its own check (a finished run does not resume).
    response = c.post("/resume", params={"path": "done"}, data={"_csrf": csrf})
    assert response.status_code == 409 and "finished" in response.text


def test_token_gate_header_cookie_and_first_visit(runs):
    c = client(runs, TOKEN, base="http://10.0.0.5:7860")  # a remote address: only the token counts
    for route in ("/", "/run?path=done", "/stream?path=done", "/static/ui.js", "/file?path=x.png"):
        assert c.get(route).status_code == 401, route
        assert c.get(route, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    assert c.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/?token=nope").status_code == 401
    first = c.get(f"/run?path=done&token={TOKEN}")
    assert first.status_code == 303 and first.headers["location"] == "/run?path=done"  # token leaves the URL
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
    assert c.get("/run", params={"path": "done"}).status_code == 200  # the cookie now carries it


def test_without_a_token_only_loopback_host_names_are_served(runs):
    assert client(runs, base="http://localhost:7860").get("/").status_code == 200
    assert client(runs, base="http://[::1]:7860").get("/").status_code == 200
    # DNS rebinding: another site's name resolving to 127.0.0.1 arrives with its own Host header.
    assert client(runs, base="http://evil.example:7860").get("/").status_code == 403


def test_bind_rules_and_token_files(tmp_path):
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)
    for host in ("0.0.0.0", "192.168.1.4", "::"):
        with pytest.raises(UserError, match="--token-file"):
            check_bind(host, None)
        check_bind(host, TOKEN)
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(UserError, match="at least 16"):
        read_token(str(short))
    with pytest.raises(UserError, match="cannot read"):
        read_token(str(tmp_path / "missing"))
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    assert read_token(str(good)) == TOKEN


def test_user_text_is_escaped(runs):
    odd = fake_run(runs, 'x<i onmouseover="alert(1)">')  # a folder name is user text too
    evaluation = {"examples": 1, "metrics": [], "models": {}, "samples": [{"prompt": EVIL}]}
    (odd / "eval.json").write_text(json.dumps(evaluation))
    c = client(runs)
    table = c.get("/").text
    assert "<i onmouseover" not in table and "x&lt;i onmouseover=&#34;alert(1)&#34;&gt;" in table
    page = c.get("/run", params={"path": odd.name}).text
    assert EVIL not in page and "&lt;script&gt;alert(" in page
    assert "<script>alert" not in page
    csp = c.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_the_cli_refuses_a_public_host_without_a_token(tmp_path, capsys):
    from thrifty.cli import main

    assert main(["ui", "--runs", str(tmp_path), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token-file" in err
    assert os.listdir(tmp_path) == []

"""Checkpoint building blocks: manifest and verification, retention, config compatibility, signals, notice poller."""

import http.server
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from thrifty.errors import UserError
from thrifty.train.checkpoint import list_checkpoints, prune, publish, read_manifest, select_kept, verify
from thrifty.train.preemption import NoticePoller, StopFlag, install_signal_handlers, is_notice
from thrifty.train.resume import check_compatible, config_differences, find_checkpoint


def make_checkpoint(run_dir: Path, step: int, eval_loss: float | None = None) -> Path:
    tmp = run_dir / "trainer" / f"checkpoint-{step}"
    (tmp / "sub").mkdir(parents=True)
    (tmp / "optimizer.pt").write_bytes(os.urandom(1000))
    (tmp / "sub" / "adapter.safetensors").write_bytes(b"weights" * 10)
    return publish(tmp, run_dir, step, {"eval_loss": eval_loss})


def test_publish_writes_manifest_last_and_renames_into_place(tmp_path):
    folder = make_checkpoint(tmp_path, 50)
    assert folder == tmp_path / "checkpoints" / "step-000050"
    assert not (tmp_path / "trainer" / "checkpoint-50").exists()
    manifest = read_manifest(folder)
    assert manifest["step"] == 50
    assert manifest["files"]["optimizer.pt"]["bytes"] == 1000
    assert manifest["files"]["sub/adapter.safetensors"]["bytes"] == 70
    assert len(manifest["files"]["optimizer.pt"]["sha256"]) == 64
    assert verify(folder) is None


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: (f / "manifest.json").unlink(), "no manifest"),
        (lambda f: (f / "manifest.json").write_text("{trunc"), "unreadable"),
        (lambda f: (f / "optimizer.pt").unlink(), "missing"),
        (lambda f: (f / "optimizer.pt").write_bytes(b"short"), "bytes"),
        (lambda f: (f / "sub" / "adapter.safetensors").write_bytes(b"WEIGHTS" * 10), "sha256"),
    ],
)
def test_verify_reports_what_is_wrong(tmp_path, damage, problem):
    folder = make_checkpoint(tmp_path, 3)
    damage(folder)
    assert problem in verify(folder)


def test_auto_picks_newest_verified_and_skips_broken(tmp_path, capsys):
    for step in (10, 20, 30):
        make_checkpoint(tmp_path, step)
    (tmp_path / "checkpoints" / "step-000030" / "optimizer.pt").write_bytes(b"torn")
    (tmp_path / "checkpoints" / "step-000040").mkdir()  # a rename that never got its manifest
    assert find_checkpoint(tmp_path, "auto") == tmp_path / "checkpoints" / "step-000020"
    err = capsys.readouterr().err
    assert "step-000040" in err and "step-000030" in err
    assert [s for s, _ in list_checkpoints(tmp_path)] == [40, 30, 20, 10]  # nothing deleted


def test_retention_keeps_last_k_and_best_by_eval_loss(tmp_path):
    losses = {1: 2.0, 2: 1.0, 3: 1.5, 4: 1.8, 5: None}
    for step, loss in losses.items():
        make_checkpoint(tmp_path, step, loss)
    assert select_kept(list(losses.items()), keep_last=2, keep_best=1) == {4, 5, 2}
    removed = prune(tmp_path, keep_last=2, keep_best=1)
    assert sorted(p.name for p in removed) == ["step-000001", "step-000003"]
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5, 4, 2]


def test_config_differences_ignore_safe_fields():
    saved = {"train": {"max_steps": 10, "learning_rate": 1e-4, "logging_steps": 5}, "output": {"dir": "a"}}
    current = {"train": {"max_steps": 20, "learning_rate": 2e-4, "logging_steps": 1}, "output": {"dir": "b"}}
    assert config_differences(saved, current) == ["train.learning_rate"]
    with pytest.raises(UserError, match=r"train\.learning_rate.*--resume-force"):
        check_compatible(saved, current, force=False)
    check_compatible(saved, current, force=True)
    with pytest.raises(UserError, match="method.name"):
        check_compatible({"method": {"name": "lora"}}, {"method": {"name": "dora"}}, force=True)


def test_first_signal_requests_a_stop_and_handlers_are_restored():
    stop = StopFlag()
    previous = signal.getsignal(signal.SIGTERM)
    restore = install_signal_handlers(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stop.reason == "SIGTERM"
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_second_signal_exits_at_once(tmp_path):
    import subprocess
    import sys

    code = (
        "import os, signal, time\n"
        "from thrifty.train.preemption import StopFlag, install_signal_handlers\n"
        "install_signal_handlers(StopFlag())\n"
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(0.1)\n"
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
        "print('not reached')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 75 and "not reached" not in done.stdout
    assert "again: exiting now" in done.stderr


@pytest.mark.parametrize(
    ("status", "body", "notice"),
    [(200, '{"action": "terminate"}', True), (200, "TRUE", True), (200, "FALSE", False), (200, "", False)],
)
def test_is_notice(status, body, notice):
    assert is_notice(status, body) is notice


@pytest.fixture
def metadata_server():
    """A loopback HTTP server playing the metadata service: 404 until `state['notice']` is set."""
    state = {"notice": False, "headers": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["headers"].append(dict(self.headers))
            if not state["notice"]:
                self.send_response(404)
                self.end_headers()
                return
            body = b'{"action": "terminate", "time": "2026-11-23T14:00:00Z"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/latest/meta-data/spot/instance-action", state
    server.shutdown()


def test_poller_requests_a_stop_when_the_notice_appears(metadata_server):
    url, state = metadata_server
    stop = StopFlag()
    poller = NoticePoller(url, stop, interval_s=0.05)
    poller.start()
    time.sleep(0.3)
    assert stop.reason is None and poller.polls >= 2  # 404: keep training
    state["notice"] = True
    poller.join(timeout=5)
    assert stop.reason == f"preemption notice from {url}"
    assert state["headers"][0].get("Metadata-Flavor") == "Google"


def test_poller_treats_an_unreachable_endpoint_as_no_notice():
    stop = StopFlag()
    poller = NoticePoller("http://127.0.0.1:9/nothing", stop, interval_s=0.05)
    assert poller.poll_once() is False
    assert NoticePoller("aws", stop, 1).url.startswith("http://169.254.169.254/")


def test_checkpoint_is_due_by_steps_minutes_or_stop_request(tmp_path):
    from types import SimpleNamespace

    from transformers import TrainerControl

    from thrifty.config.schema import CheckpointConfig
    from thrifty.train.checkpoint import CheckpointCallback

    stop = StopFlag()
    callback = CheckpointCallback(tmp_path, CheckpointConfig(every_steps=50, every_minutes=10), stop, dict)

    def due(step: int) -> TrainerControl:
        return callback.on_step_end(None, SimpleNamespace(global_step=step), TrainerControl())

    assert due(50).should_save and not due(49).should_save
    callback.last_time -= 10 * 60  # ten minutes since the last checkpoint
    assert due(51).should_save
    callback.last_time += 10 * 60
    stop.request("SIGTERM")
    control = due(52)
    assert control.should_save and control.should_training_stop
    callback.last_step = 53  # already saved at this step: stop without a second write
    control = due(53)
    assert not control.should_save and control.should_training_stop

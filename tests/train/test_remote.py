"""Remote sync against a real S3-compatible server on loopback (moto's server mode) with the real s3fs client."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.train.conftest import PLAIN, assert_same_run, signal_at, train_args
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR, UserError
from thrifty.train.remote import Remote, Uploader


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1 (a free port), with dummy credentials that every client here inherits."""
    from moto.server import ThreadedMotoServer

    patch = pytest.MonkeyPatch()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        patch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    patch.undo()


@pytest.fixture
def bucket(s3_endpoint, request) -> str:
    import s3fs

    # A digest of the whole node name: parametrized cases share their first 40 characters.
    digest = hashlib.sha256(request.node.name.encode()).hexdigest()[:8]
    name = f"thrifty-{request.node.name.lower().replace('_', '-')[:40].strip('-')}-{digest}"
    s3fs.S3FileSystem(endpoint_url=s3_endpoint).mkdir(name)
    return name


def remote_config(tmp_path: Path, url: str, endpoint: str) -> Path:
    """Endpoint options go in a config file, as a user pointing at MinIO or R2 would write them."""
    path = tmp_path / "remote.yaml"
    path.write_text(
        yaml.safe_dump({"checkpoint": {"remote": url, "remote_options": {"endpoint_url": endpoint}}})
    )
    return path


def test_preempted_run_resumes_from_s3_after_the_local_folder_is_gone(
    tiny_model, faq_file, reference, tmp_path, s3_endpoint, bucket
):
    import s3fs

    url = f"s3://{bucket}/runs/legal"
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    args.insert(1, str(remote_config(tmp_path, url, s3_endpoint)))  # thrifty train CONFIG --flags overrides
    stopped = signal_at(5, "SIGTERM", "step", args)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]

    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{bucket}/runs/legal/checkpoints"))
    assert names == ["step-000003", "step-000005"]  # both uploaded before the exit; retention keeps 2
    manifest = json.loads(fs.cat(f"{bucket}/runs/legal/checkpoints/step-000005/manifest.json"))
    assert set(manifest["files"]) >= {"adapter_model.safetensors", "optimizer.pt", "thrifty_state.pt"}

    shutil.rmtree(out)  # a new machine: nothing local
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from_step"] == 5
    assert_same_run(reference["plain"], out)


def test_half_uploaded_checkpoint_is_never_taken(tmp_path, s3_endpoint, bucket):
    remote = Remote(f"s3://{bucket}/run", {"endpoint_url": s3_endpoint})
    remote.check()
    remote.fs.pipe(f"{bucket}/run/checkpoints/step-000009/optimizer.pt", b"partial")  # no manifest yet
    assert remote.steps() == []


def test_unreachable_remote_is_one_line_exit_2_and_nothing_deleted(tiny_model, faq_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN, steps=3)
    assert main(args) == 0
    (out / "summary.json").unlink()
    capsys.readouterr()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    config = tmp_path / "bad.yaml"
    fast_fail = {"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}}
    config.write_text(
        yaml.safe_dump(
            {
                "checkpoint": {
                    "remote": "s3://nowhere/run",
                    "remote_options": {"endpoint_url": "http://127.0.0.1:9", **fast_fail},
                }
            }
        )
    )
    assert main([args[0], str(config), *args[1:], "--resume", "auto"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unreachable" in err and "s3://nowhere/run" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_file_remote_upload_mirrors_local_retention(tmp_path):
    from tests.train.test_checkpoint import make_checkpoint
    from thrifty.train.checkpoint import prune

    run = tmp_path / "run"
    remote = Remote(f"file://{tmp_path / 'remote'}")
    remote.check()
    uploader = Uploader(remote, run)
    for step in (1, 2, 3):
        folder = make_checkpoint(run, step)
        prune(run, keep_last=2, keep_best=0, protect=uploader.pending() | {folder})
        uploader.submit(folder)
    uploader.close(timeout=30)
    assert uploader.failures == []
    assert remote.steps() == [3, 2]
    shutil.rmtree(run / "checkpoints")
    downloaded = remote.download(3, run)
    assert downloaded == run / "checkpoints" / "step-000003"


HOSTILE_NAMES = [
    "../../escaped.txt",
    "a/../../escaped.txt",
    "ABS/absolute.txt",  # ABS: an absolute path under this test's tmp_path
    "..\\escaped.txt",
    "sub\\..\\..\\escaped.txt",
    "C:/escaped.txt",
    "C:escaped.txt",
    "",
    "a//b.txt",
    "./x.txt",
    "manifest.json",
    "x.txt\n",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_manifest_is_one_line_and_writes_nothing_outside_the_checkpoint(
    tmp_path, s3_endpoint, bucket, name
):
    # A remote manifest is read before it can be verified: every name is checked before any download.
    name = name.replace("ABS", str(tmp_path / "abs"))
    url = f"s3://{bucket}/run"
    remote = Remote(url, {"endpoint_url": s3_endpoint})
    remote.check()
    step = f"{bucket}/run/checkpoints/step-000003"
    manifest = {"format": 1, "step": 3, "files": {name: {"bytes": 5, "sha256": "0" * 64}}}
    if name.isprintable():  # the payload the hostile name points at (S3 refuses a newline in a key)
        remote.fs.pipe(f"{step}/{name.strip('/') or 'x'}", b"owned")
    remote.fs.pipe(f"{step}/manifest.json", json.dumps(manifest).encode())
    run_dir = tmp_path / "work" / "run"
    run_dir.mkdir(parents=True)
    with pytest.raises(UserError) as raised:
        remote.download(3, run_dir)
    message = str(raised.value)
    assert "\n" not in message and url in message and repr(name) in message
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert list((run_dir / "checkpoints").iterdir()) == []  # the temporary folder is gone too


def test_train_resume_auto_stops_at_a_hostile_remote_manifest(
    tiny_model, faq_file, tmp_path, s3_endpoint, bucket, capsys
):
    # A manifest thrifty did not write means someone else writes to this remote: stop (exit 2), don't fall back.
    url = f"s3://{bucket}/run"
    remote = Remote(url, {"endpoint_url": s3_endpoint})
    step = f"{bucket}/run/checkpoints/step-000003"
    manifest = {"format": 1, "step": 3, "files": {"../../../escaped.txt": {"bytes": 5, "sha256": "0" * 64}}}
    remote.fs.pipe(f"{step}/manifest.json", json.dumps(manifest).encode())
    out = tmp_path / "work" / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN, steps=2)
    args.insert(1, str(remote_config(tmp_path, url, s3_endpoint)))
    assert main(args + ["--resume", "auto"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not written by thrifty" in err[0] and url in err[0]
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"a.pt": {"bytes": 5}}, "no sha256"),
        ({"a.pt": {"bytes": "5", "sha256": "0" * 64}}, "no byte count"),
        ({"a.pt": "x"}, "no sha256"),
        (
            {"a": {"bytes": 1, "sha256": "0" * 64}, "a/b": {"bytes": 1, "sha256": "0" * 64}},
            "file and as a folder",
        ),
        ([], "unreadable"),
    ],
)
def test_manifest_entries_must_have_the_schema_thrifty_writes(tmp_path, s3_endpoint, bucket, files, problem):
    remote = Remote(f"s3://{bucket}/run", {"endpoint_url": s3_endpoint})
    step = f"{bucket}/run/checkpoints/step-000003"
    remote.fs.pipe(f"{step}/manifest.json", json.dumps({"format": 1, "step": 3, "files": files}).encode())
    with pytest.raises(UserError, match=problem):
        remote.download(3, tmp_path / "run")


def test_manifest_of_another_step_is_refused(tmp_path, s3_endpoint, bucket):
    remote = Remote(f"s3://{bucket}/run", {"endpoint_url": s3_endpoint})
    remote.fs.pipe(f"{bucket}/run/checkpoints/step-000003/manifest.json", b'{"step": 9, "files": {}}')
    with pytest.raises(UserError, match="for step 9, not 3"):
        remote.download(3, tmp_path / "run")


def test_a_name_through_a_symlink_out_of_the_folder_is_refused(tmp_path):
    from thrifty.train.checkpoint import manifest_problem, verify

    folder, outside = tmp_path / "step-000001", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (folder / "link").symlink_to(outside, target_is_directory=True)
    meta = {"bytes": 6, "sha256": hashlib.sha256(b"secret").hexdigest()}
    manifest = {"format": 1, "step": 1, "files": {"link/secret": meta}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "leads outside the checkpoint" in manifest_problem(folder, manifest)
    assert "leads outside the checkpoint" in verify(folder)  # a received local folder is held to it too

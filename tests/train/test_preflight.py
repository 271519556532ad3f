"""A run's inputs that need no heavy library are checked before torch loads: a missing model, an uncached
hub id without a network, or a binary data file fails in about a second, not after 10-20 s of imports."""

import json
import subprocess
import sys

import pytest

from thrifty.data.readers import SNIFF_BYTES, check_readable, read_records
from thrifty.errors import UserError

PROBE = (
    "import sys; from thrifty.cli import main; code = main(sys.argv[1:]); "
    "print(code, 'torch' in sys.modules, 'transformers' in sys.modules)"
)


def _run(*argv: str) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    return done.stdout.split(), done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--data", "{bin}", "--model", "{model}", "--output", "{out}"],
        ["train", "--data", "{data}", "--model", "someorg/not-cached", "--output", "{out}"],
        ["train", "--data", "{tmp}/missing.jsonl", "--model", "{model}", "--output", "{out}"],
        ["compare", "--data", "{bin}", "--model", "{model}", "--budget-steps", "1", "--output", "{out}"],
        ["plan", "--model", "someorg/not-cached"],
    ],
)
def test_bad_inputs_fail_before_torch_loads(argv, tiny_model, alpaca_file, tmp_path):
    binary = tmp_path / "img.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    names = {
        "bin": binary,
        "model": tiny_model,
        "data": alpaca_file,
        "tmp": tmp_path,
        "out": tmp_path / "out",
    }
    out, err = _run(*(arg.format(**names) for arg in argv))
    assert out == ["2", "False", "False"], err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_check_readable_reads_only_the_start(tmp_path):
    # A bad byte past the first MiB is found by the full read (after the imports), not by the sniff.
    line = json.dumps({"text": "é" * 100}) + "\n"
    good = line * (SNIFF_BYTES // len(line.encode()) + 2)
    path = tmp_path / "late.jsonl"
    path.write_bytes(good.encode() + b"\xff\n")
    check_readable(str(path))
    with pytest.raises(UserError, match=r"late.jsonl:\d+: not UTF-8 text \(byte 0xff"):
        read_records(str(path))


def test_check_readable_accepts_a_character_cut_at_the_sniff_boundary(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"a" * (SNIFF_BYTES - 1) + "é".encode() + b"\n")  # é's 2 bytes straddle the limit
    check_readable(str(path))

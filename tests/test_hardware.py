import subprocess
import sys
import textwrap

import pytest

# Run in a fresh interpreter with an explicit anonymous mmap: inside the pytest process, glibc may serve
# the block from heap memory freed by earlier tests (already resident, so no new peak), and may keep it
# after `del` (so resident memory does not fall). mmap/munmap make both effects certain.
_PROBE = textwrap.dedent(
    """
    import mmap
    from thrifty.hardware import current_memory_bytes, peak_memory_bytes, reset_peak_memory
    size = 300 * 2**20
    reset_peak_memory()
    block = mmap.mmap(-1, size)
    block.write(b"\\x01" * size)  # every page written, so all of it becomes resident
    high = peak_memory_bytes()
    block.close()  # munmap: the pages leave the process at once
    reset_peak_memory()
    print(high, current_memory_bytes(), peak_memory_bytes())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM reset is Linux's /proc interface")
def test_peak_memory_resets_between_runs():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    high, current, peak_after_reset = (int(x) for x in out.split())
    assert high >= current + 250 * 2**20  # the 300 MiB block was counted in the peak
    assert peak_after_reset < high - 250 * 2**20  # the next run does not inherit the old peak


@pytest.mark.parametrize(
    ("bf16", "method", "want"),
    [("1", "lora", "bf16-base"), ("1", "dora", "bf16-base"), ("1", "full", "fp32"), ("1", "qlora", "fp32"),
     ("0", "lora", "fp32")],
)  # fmt: skip
def test_auto_stores_a_frozen_base_in_bf16_only_where_the_cpu_has_bf16(monkeypatch, bf16, method, want):
    from thrifty import hardware

    monkeypatch.setattr(hardware, "device_name", lambda: "cpu")
    monkeypatch.setenv("THRIFTY_CPU_BF16", bf16)
    assert hardware.resolve_precision("auto", method) == want
    assert hardware.resolve_precision("fp32", method) == "fp32"


def test_bf16_base_refuses_a_method_that_trains_the_base():
    from thrifty.errors import UserError
    from thrifty.hardware import resolve_precision

    with pytest.raises(UserError, match="method full trains or quantizes the base"):
        resolve_precision("bf16-base", "full")


def test_the_cpu_flags_decide_without_an_override(monkeypatch):
    from thrifty import hardware

    monkeypatch.delenv("THRIFTY_CPU_BF16")
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert hardware.cpu_has_bf16()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert not hardware.cpu_has_bf16()

import sys

import pytest

from thrifty.train.hardware import current_memory_bytes, peak_memory_bytes, reset_peak_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM reset is Linux's /proc interface")
def test_peak_memory_resets_between_runs():
    reset_peak_memory()
    # Written byte by byte: bytearray(n) alone gets lazily-zeroed pages that never become resident.
    block = bytearray(b"\x01") * (300 * 2**20)
    high = peak_memory_bytes()
    del block
    reset_peak_memory()
    assert high >= current_memory_bytes() + 250 * 2**20
    assert peak_memory_bytes() < high - 250 * 2**20  # the next run does not inherit the old peak

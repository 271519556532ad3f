"""Regenerate docs/ui-runs.png, ui-run.png, ui-sweep.png, ui-compare.png: the ui browser tests' own
screenshots (real tiny runs, a sweep and a comparison in headless chromium), written into docs/.

    python bench/ui_screenshots.py          # ~1 min on 2 cores; needs chromium (apt-get install chromium)
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = "runs_table or run_page or sweep_page or compare_page"


def main() -> int:
    env = {**os.environ, "THRIFTY_UI_SCREENSHOTS": str(ROOT / "docs"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", str(ROOT / "tests/ui/test_browser.py"), "-k", PAGES]
    code = subprocess.call(command, cwd=ROOT, env=env)
    for name in ("runs", "run", "sweep", "compare"):
        path = ROOT / "docs" / f"ui-{name}.png"
        print(f"{path}: {path.stat().st_size:,} bytes" if path.is_file() else f"{path}: missing")
    return code


if __name__ == "__main__":
    sys.exit(main())

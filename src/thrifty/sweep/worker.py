"""A local sweep worker process: `python -m thrifty.sweep.worker SWEEP_DIR N_TRIALS WORKER [TIMEOUT_S]`."""

import sys
from pathlib import Path

from thrifty.sweep.objective import SweepPlan
from thrifty.sweep.runner import run_trials


def main(argv: list[str]) -> int:
    plan = SweepPlan.load(Path(argv[0]))
    timeout = float(argv[3]) if len(argv) > 3 else None
    run_trials(plan, int(argv[1]), timeout, int(argv[2]), progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

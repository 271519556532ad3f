"""A local sweep worker process: `python -m thrifty.sweep.worker SWEEP_DIR N_TRIALS WORKER [DEADLINE]`.

DEADLINE: the time.time() (seconds since the epoch) after which --budget-minutes lets no trial start,
the same for every worker of the sweep. On a machine with GPUs the sweep gives each worker its own
through CUDA_VISIBLE_DEVICES (runner.worker_envs): here it is the only GPU, cuda:0."""

import sys
from pathlib import Path

from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR, Preempted, UserError
from thrifty.sweep.objective import SweepPlan
from thrifty.sweep.runner import run_trials


def main(argv: list[str]) -> int:
    """Exit 0, 2 after a user error or 75 after a preemption, each told in one line as `thrifty` does
    (the parent sweep's exit status follows its workers')."""
    try:
        plan = SweepPlan.load(Path(argv[0]))
        deadline = float(argv[3]) if len(argv) > 3 else None
        run_trials(plan, int(argv[1]), deadline, int(argv[2]), progress=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Preempted as exc:
        print(f"preempted: {exc}; rerun the same command to resume the sweep", file=sys.stderr)
        return EXIT_PREEMPTED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

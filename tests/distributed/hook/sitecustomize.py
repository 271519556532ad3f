"""Put on PYTHONPATH by tests/distributed: every process of a launched job imports this at start. In the
worker of local rank 0 (torchrun sets LOCAL_RANK), THRIFTY_TEST_SIGNAL=STEP:SIGNAL:TARGET installs a
callback that, right after optimizer step STEP, sends SIGNAL to TARGET: `launcher` (the `thrifty train`
process the user started), `job` (the launcher, accelerate and every worker) or `peer` (the other
workers: one rank dies)."""

import os

if os.environ.get("THRIFTY_TEST_SIGNAL") and os.environ.get("LOCAL_RANK") == "0":
    from tests.distributed.signal_hook import install

    install(os.environ["THRIFTY_TEST_SIGNAL"])

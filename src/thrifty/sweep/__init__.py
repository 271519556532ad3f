"""`thrifty sweep`: hyperparameter search over any run-config field on Optuna (samplers, pruners, storage),
with results.jsonl, reports and `finalize`."""

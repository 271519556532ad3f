"""`thrifty autotune`: learn from past sweeps (results.jsonl) which settings work, and suggest
configs for a new domain."""

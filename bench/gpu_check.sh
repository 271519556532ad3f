#!/usr/bin/env bash
# One prepared GPU check of every CUDA path thrifty has; see bench/gpu_check.py and docs/gpu.md.
# Usage: bench/gpu_check.sh [--device cuda|cpu|auto] [--out DIR] [--budget-s S]   (--out defaults to $OUT)
# Python: $PYTHON when set (the test suite passes its own), else the repo's .venv when there is one, else
# python3 on PATH (a bare GPU machine with thrifty's dependencies installed system-wide); thrifty itself
# is imported from src/ either way.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
export PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$python" "$repo/bench/gpu_check.py" "$@"

#!/usr/bin/env bash
# The GPU checks, as one script for a lent CUDA machine (run from the repository root, no install:
# PYTHONPATH points at the checkout). Each check prints its own RESULT line; a failure does not stop the rest.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:${PYTHONPATH:-}" TRANSFORMERS_VERBOSITY=error
py=${PYTHON:-python3}
status=0
run() { echo "== $*"; "$@" || status=1; }
run "$py" benchmarks/agop_cuda_check.py
run "$py" benchmarks/cuda_steering_check.py --seconds 4 --repeats 3
run "$py" benchmarks/steering_overhead.py --device cuda --seconds 4 --rounds 3
run "$py" benchmarks/extraction.py --device cuda --clips 16 --seconds 10 --batch-size 8 --rounds 2
run "$py" benchmarks/agop_search_cuda_check.py --dims 1024 2048
exit $status

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
echo "== probe search on cuda (d=1024, n=1400 train + 300 val, 100 configs)"
"$py" - <<'PY' || status=1
import time, numpy as np, torch
from musicrfm.agop.search import RFMSearch
rng = np.random.default_rng(0)
d, n = 1024, 1700
basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
Z = rng.standard_t(3, size=(n, d))
y = (np.tanh(Z[:, 0]) * Z[:, 1] + 0.5 * Z[:, 2] ** 2 + 0.3 * rng.normal(size=n) > 0.6).astype(int)
X = (Z @ basis).astype(np.float32)
for device in ("cuda", "cuda"):  # the first run pays CUDA start-up
    torch.cuda.synchronize(); start = time.perf_counter()
    search = RFMSearch(n_configs=100, max_iters=30, random_state=0, device=device).fit(X[:1400], y[:1400], X[1400:], y[1400:])
    torch.cuda.synchronize(); took = time.perf_counter() - start
print(f"RESULT cuda_search_seconds={took:.2f} best_val_auc={search.best_score_:.4f}")
PY
exit $status

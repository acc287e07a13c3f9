"""The search on data that gives a predictor no gradient: it must finish on the best round, not crash."""

import numpy as np
import pytest

from musicrfm.agop.search import RFMSearch


@pytest.mark.parametrize("task, n_classes", [("binary", 2), ("multiclass", 3)])
def test_constant_features_stop_after_round_zero(task, n_classes):
    rng = np.random.default_rng(0)
    X = np.ones((60, 5))
    y = np.arange(60) % n_classes
    rng.shuffle(y)
    search = RFMSearch(task=task, n_configs=4, max_iters=3, random_state=0).fit(X[:40], y[:40], X[40:], y[40:])
    # Every config sees identical points: nothing beyond the plain kernel machine (round 0) can be learned.
    assert all(result.val_scores == result.val_scores[:1] for result in search.results_)
    assert search.best_params_["iters"] == 0
    assert search.best_estimator_.predict(X[:3]).shape == (3,)

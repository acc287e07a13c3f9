"""Selection scores against scikit-learn's reference implementations, ties included."""

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from musicrfm.agop.metrics import accuracy, r2, roc_auc


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=200)
    scores = np.round(rng.normal(size=(200, 3)), 1)  # rounding creates ties
    binary = (labels == 1).astype(int)
    t = torch.as_tensor
    assert roc_auc(t(binary), t(scores[:, 0])) == np.float64(roc_auc_score(binary, scores[:, 0]))
    per_column = np.mean([roc_auc_score(labels == c, scores[:, c]) for c in range(3)])
    assert abs(roc_auc(t(labels), t(scores)) - per_column) < 1e-12  # macro one-vs-rest on raw scores
    assert accuracy(t(labels), t(scores)) == accuracy_score(labels, scores.argmax(1))
    assert accuracy(t(binary), t(scores[:, 0])) == accuracy_score(binary, scores[:, 0] > 0)
    y, pred = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    assert abs(r2(t(y), t(pred)) - r2_score(y, pred)) < 1e-12
    assert np.isnan(roc_auc(t(np.zeros(5)), t(np.arange(5.0))))

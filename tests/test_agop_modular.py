"""Modular addition: RFM goes from near-chance to perfect test accuracy as its metric turns circulant."""

import pytest
import torch

from musicrfm.agop import RFMClassifier
from musicrfm.agop.modular import circulant_deviation, modular_addition


def test_emergence_on_modular_addition():
    p = 19
    # Smaller p needs a larger training share than p = 61's half to generalise within a few rounds.
    data = modular_addition(p, train_fraction=0.75, seed=0)
    deviations = []
    model = RFMClassifier(
        kernel="gaussian", bandwidth=2.5, reg=0.0, iters=11, center_grads=True, agop_power=0.5,
        normalize_agop=False, early_stopping=False, dtype="float64", device="cpu",
        callback=lambda state: state.M is not None and deviations.append(circulant_deviation(state.M, p)),
    )
    model.fit(data.X_train, data.y_train, data.X_test, data.y_test)
    test_acc, train_acc = model.history_["val"], model.history_["train"]
    assert max(test_acc[:3]) <= 2 / p  # chance is 1/p
    assert test_acc[-1] >= 0.99
    assert all(acc == 1.0 for acc in train_acc)  # interpolation throughout
    assert deviations[-1] < 0.1 * deviations[0]


def test_dataset_covers_all_pairs_once():
    data = modular_addition(5, train_fraction=0.4, seed=3)
    X = torch.cat([data.X_train, data.X_test])
    a, b = X[:, :5].argmax(1), X[:, 5:].argmax(1)
    assert len({(int(i), int(j)) for i, j in zip(a, b)}) == 25 and len(data.y_train) == 10
    assert torch.equal(torch.cat([data.y_train, data.y_test]), (a + b) % 5)


def test_circulant_deviation_separates_structure_from_noise():
    p = 11
    circ = torch.tensor([[float((b - a) % p) for b in range(p)] for a in range(p)])
    M = torch.zeros(2 * p, 2 * p)
    M[:p, p:] = circ
    assert circulant_deviation(M, p) == pytest.approx(0.0, abs=1e-12)
    M[:p, p:] = torch.randn(p, p, generator=torch.Generator().manual_seed(0))
    assert circulant_deviation(M, p) > 0.5 / p
    with pytest.raises(ValueError, match="shape"):
        circulant_deviation(torch.zeros(5, 5), p)
    with pytest.raises(ValueError, match="p must"):
        modular_addition(1)

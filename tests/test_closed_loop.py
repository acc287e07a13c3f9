"""Closed-loop steering: the PI law, the compact RFM predictor, the live monitor, goals, bundles, the toy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from musicrfm.agop import KernelPredictor, RFMClassifier
from musicrfm.agop.search import RFMSearch
from musicrfm.data import make_dataset
from musicrfm.models import MusicGen
from musicrfm.models.capture import delay_codes
from musicrfm.models.random_weights import tiny_musicgen
from musicrfm.probes import ConceptProbe, train_probe
from musicrfm.steering import Control, SteeringPlan, apply_plan, generate
from musicrfm.steering.control import PILaw

TEXT = torch.tensor([[5, 17, 33, 2]])


@pytest.fixture(scope="module")
def model():
    return tiny_musicgen(seed=0)


@pytest.fixture(scope="module")
def probe(model, tmp_path_factory):
    """A binary probe of note C on the tiny model, with its predictors."""
    ds = make_dataset("notes", n_per_class=8, classes=["C", "D"], duration_s=0.5, sample_rate=16000,
                      backend="numpy")
    return train_probe(model, ds, target="C", search={"n_configs": 3, "max_iters": 2},
                       cache_dir=tmp_path_factory.mktemp("act"))


def _hooks(model) -> int:
    decoder = model.decoder.model.decoder
    modules = [decoder.embed_positions, *decoder.layers]
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules)


def test_pi_law_follows_the_hand_computed_trace_with_anti_windup():
    law = PILaw(kp=torch.tensor([1.0]), ki=torch.tensor([0.5]), floor=torch.tensor([0.0]), ceiling=torch.tensor([1.0]))
    errors = [0.4, 0.4, 0.4, 0.4, -0.2, -2.0]
    # By hand: I = 0.4, 0.8, 1.2; step 4 would make raw 0.4 + 0.5 * 1.6 = 1.2 > 1 with e > 0, so I stays 1.2
    # (u clipped to 1); step 5: I = 1.0, u = -0.2 + 0.5 = 0.3; step 6 raw -2 + 0.5 * (-1) < 0 with e < 0:
    # I stays 1.0, u = clip(-2 + 0.5) = 0.
    got = [law.step(torch.tensor([[e], [0.0]]))[:, 0].tolist() for e in errors]
    assert [round(u[0], 6) for u in got] == [0.6, 0.8, 1.0, 1.0, 0.3, 0.0]
    assert [u[1] for u in got] == [0.0] * 6  # rows are independent
    assert law.integral[0, 0].item() == pytest.approx(1.0)


def test_compact_predictor_equals_the_selected_rfm_and_its_from_state_twin():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 12)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    search = RFMSearch(n_configs=4, max_iters=3, random_state=0).fit(X[:100], y[:100], X[100:130], y[100:130])
    best = search.best_estimator_
    twin = RFMClassifier.from_state(X[:100], y[:100], best.M_, best.coef_, best_iter=best.best_iter_,
                                    **best.get_params())
    compact = KernelPredictor.from_estimator(best)
    held_out = torch.as_tensor(X[130:])
    expected = torch.as_tensor(twin.decision_function(X[130:])) + 0.5
    assert torch.allclose(compact(held_out)[:, 0], expected.float(), atol=1e-4)
    assert compact.points.shape[1] <= 12


def test_probe_bundles_keep_the_predictor_and_old_bundles_still_steer(probe, tmp_path):
    loaded = ConceptProbe.load(probe.save(tmp_path / "new"))
    states = torch.randn(5, 2, 32)
    assert torch.equal(loaded.reader().read(states), probe.reader().read(states))
    old = ConceptProbe(**{name: getattr(probe, name) for name in ConceptProbe.__dataclass_fields__
                          if name not in ("predictors", "targets")})
    folder = old.save(tmp_path / "old")
    meta = json.loads((folder / "probe.json").read_text())
    meta["schema_version"] = 1
    del meta["predictor"]
    (folder / "probe.json").write_text(json.dumps(meta))
    legacy = ConceptProbe.load(folder)
    assert legacy.term(0.5).strength == 0.5
    with pytest.raises(ValueError, match="retrain it with this version") as info:
        legacy.reader()
    assert "\n" not in str(info.value)


def test_monitor_reading_equals_the_probe_prediction_on_the_same_frames(model, probe):
    out = generate(model, input_ids=TEXT, duration_s=0.3, seed=3, monitor=[probe])
    readings = out.trace.readings[:, 0, 0]
    assert out.trace.names == ("notes:C",) and not torch.isnan(readings).any()
    # Teacher-forced forward over the delayed layout of the generated codes, same text: the residual at
    # position p is what the model computed at that decoding forward.
    mg = MusicGen.from_model(model)
    inputs = delay_codes(out.codes, mg.pad_token_id)
    states: dict[int, torch.Tensor] = {}
    handles = [mg.layers[i].register_forward_hook(lambda m, a, o, i=i: states.__setitem__(i, o[0] if isinstance(o, tuple) else o))
               for i in probe.layers]
    try:
        with torch.no_grad():
            model(input_ids=TEXT, attention_mask=torch.ones_like(TEXT),
                  decoder_input_ids=inputs.reshape(-1, inputs.shape[-1]), use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    stacked = torch.stack([states[i][0] for i in probe.layers], dim=1)  # (positions, layers, d)
    delay, frames = mg.num_codebooks - 1, out.codes.shape[-1]
    for step in range(frames):
        position = step + delay  # the forward completing frame `step`
        pooled = stacked[1 : position + 1].mean(dim=0, keepdim=True)
        assert readings[step].item() == pytest.approx(probe.reader().read(pooled).item(), abs=1e-4)


def test_closed_loop_generation_is_reproducible_and_records_strengths(model, probe):
    plan = SteeringPlan((probe.term(1.0, goal=0.9, kp=4.0, ki=1.0, ceiling=3.0),))
    runs = [generate(model, plan, input_ids=TEXT, duration_s=0.4, seed=7) for _ in range(2)]
    assert torch.equal(runs[0].codes, runs[1].codes)
    assert torch.equal(runs[0].trace.readings, runs[1].trace.readings)
    assert torch.equal(runs[0].trace.strengths, runs[1].trace.strengths)
    strengths = runs[0].trace.strengths[:, 0, 0]
    assert runs[0].trace.controlled == ("notes:C",)
    assert (strengths >= 0).all() and (strengths <= 3.0).all() and strengths.max() > 0


def test_hooks_are_removed_when_the_monitor_fails(model, probe):
    class Failing(KernelPredictor):
        def __call__(self, Z):
            raise RuntimeError("predictor broke")

    reader = probe.reader()
    broken = type(reader)(reader.name, reader.layers, tuple(Failing(p.points, p.coef, p.factor, p.kernel)
                          for p in reader.predictors), reader.weights, reader.task, fingerprint=reader.fingerprint)
    before = _hooks(model)
    with pytest.raises(RuntimeError, match="predictor broke"):
        generate(model, duration_s=0.2, seed=0, monitor=[broken])
    plan = SteeringPlan((probe.term(1.0, goal=0.8),))
    with pytest.raises(KeyError):
        with apply_plan(plan, model):
            raise KeyError("inside")
    assert _hooks(model) == before


def test_bad_goals_and_foreign_monitors_are_refused_up_front(model, probe):
    with pytest.raises(ValueError, match=r"goal for 'notes:C' must be a probability in \[0, 1\], got 1.5"):
        probe.term(1.0, goal=1.5)
    plan = SteeringPlan((probe.term(1.0, goal=0.8, schedule=2.0),))
    with pytest.raises(ValueError, match=r"goal \* schedule\(0\) = 1.6 leaves \[0, 1\]"):
        generate(model, plan, duration_s=0.2, seed=0)
    with pytest.raises(ValueError, match="ceiling"):
        Control(probe.reader(), 0.5, ceiling=0.0)
    fields = {name: getattr(probe, name) for name in ConceptProbe.__dataclass_fields__}
    foreign = ConceptProbe(**{**fields, "model": {"name": "other", "fingerprint": {**probe.fingerprint,
                                                                                  "codebook_size": 2048}}})
    with pytest.raises(ValueError, match="made for a model with codebook_size=2048, this model has 64") as info:
        generate(model, duration_s=0.2, seed=0, monitor=[foreign])
    assert "\n" not in str(info.value)


def test_a_regression_goal_must_lie_in_the_training_range(probe):
    fields = {name: getattr(probe, name) for name in ConceptProbe.__dataclass_fields__}
    tempo = ConceptProbe(**{**fields, "concept": "tempo", "task": "regression", "classes": (), "target": None,
                            "metric": "r2", "targets": {"mean": 120.0, "std": 20.0, "min": 60.0, "max": 180.0}})
    assert tempo.term(1.0, goal=150.0).control.goal == 150.0
    with pytest.raises(ValueError, match=r"goal for 'tempo' must be a value of the probe's training range "
                                         r"in \[60, 180\], got 200"):
        tempo.term(1.0, goal=200.0)

"""Seeded, steered generation on a tiny 32 kHz / 50 Hz MusicGen: identity, onset timing, long form."""

import pytest
import torch

from musicrfm.models import MusicGen
from musicrfm.steering.generate import generate
from musicrfm.steering.plan import SteeringPlan, SteeringTerm
from steering_support import model  # noqa: F401 - pytest fixture
from musicrfm.schedules import LinearRamp, Steps

D, DELAY, HOP = 32, 3, 640
LONG = dict(duration_s=1.4, window_s=0.7, context_s=0.2)  # windows: 0-34, 35-59 (prompt 25-34), 60-69


def _text():
    ids = torch.randint(0, 100, (1, 5), generator=torch.Generator().manual_seed(1))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _direction(seed=0):
    return torch.randn(D, generator=torch.Generator().manual_seed(seed))


def _plan(**term_kwargs):
    return SteeringPlan((SteeringTerm({0: _direction(0), 1: _direction(1)}, **term_kwargs),))


def test_zero_strength_or_closed_gate_is_bitwise_unsteered(model):
    rng_before = torch.get_rng_state()
    plain = generate(model, None, **_text(), duration_s=0.4, seed=3)
    assert torch.equal(torch.get_rng_state(), rng_before), "the caller's RNG must be left untouched"
    for plan in (_plan(strength=0.0), _plan(strength=5.0, gate_p=0.0)):
        steered = generate(model, plan, **_text(), duration_s=0.4, seed=3)
        assert torch.equal(steered.codes, plain.codes)
        assert torch.equal(steered.audio, plain.audio)
    assert plain.codes.shape == (1, 4, 20) and plain.audio.shape == (1, 1, 20 * HOP)


def test_seed_decides_the_sample(model):
    first = generate(model, None, **_text(), max_new_tokens=23, seed=5)
    again = generate(model, None, **_text(), max_new_tokens=23, seed=5)
    other = generate(model, None, **_text(), max_new_tokens=23, seed=6)
    assert first.codes.shape[-1] == 20 and torch.equal(first.codes, again.codes)
    assert not torch.equal(first.codes, other.codes)


def _first_difference(a, b):
    differs = (a != b).any(dim=1)[0].nonzero()
    return int(differs[0]) if len(differs) else None


def test_schedule_zero_before_one_second_keeps_the_first_50_frames(model):
    onset = _plan(strength=4.0, schedule=Steps(boundaries=(1.0,), levels=(0.0, 1.0)))
    plain = generate(model, None, **_text(), duration_s=1.3, seed=2)
    steered = generate(model, onset, **_text(), duration_s=1.3, seed=2)
    assert torch.equal(steered.codes[..., :50], plain.codes[..., :50])
    assert 50 <= _first_difference(steered.codes, plain.codes) < 50 + 4


def test_long_form_has_the_requested_length_and_keeps_schedule_time(model):
    onset = _plan(strength=4.0, schedule=Steps(boundaries=(1.0,), levels=(0.0, 1.0)))
    plain = generate(model, None, **_text(), seed=4, **LONG)
    steered = generate(model, onset, **_text(), seed=4, **LONG)
    assert plain.codes.shape == (1, 4, 70) and plain.audio.shape == (1, 1, 70 * HOP)
    assert plain.duration_s == pytest.approx(1.4)
    # Frame 50 lies in the second window (window-relative frame 25): the onset must still be frame 50.
    assert 50 <= _first_difference(steered.codes, plain.codes) < 50 + 4


def test_long_form_steps_are_absolute_frames_in_every_forward(model):
    direction = _direction(0)
    plan = SteeringPlan((SteeringTerm({0: direction}, schedule=lambda step: float(step)),))
    decoder = model.decoder.model.decoder
    raw, steered = [], []
    handles = [
        decoder.layers[0].register_forward_hook(lambda m, a, out: raw.append(out[:, -1].clone())),
        decoder.layers[1].register_forward_pre_hook(lambda m, args: steered.append(args[0][:, -1].clone())),
    ]
    try:
        generate(model, plan, **_text(), seed=4, **LONG)
    finally:
        for handle in handles:
            handle.remove()
    observed = [round(float((s - r)[0] @ direction / (direction @ direction)), 3) for r, s in zip(raw, steered)]
    expected = []
    for offset, prompt, new in ((0, 0, 35), (25, 10, 25), (50, 10, 10)):
        positions = [prompt, *range(prompt, prompt + new + DELAY)]  # the first forward runs twice
        expected += [float(max(offset + p - DELAY, 0)) for p in positions]
    assert observed == expected


def test_prompt_codes_are_continued(model):
    head = generate(model, None, **_text(), duration_s=0.2, seed=1)
    continued = generate(model, None, **_text(), duration_s=0.3, prompt_codes=head.codes, seed=1, context_s=0.1)
    assert continued.codes.shape[-1] == 25
    assert torch.equal(continued.codes[..., :10], head.codes)


def test_unconditional_generation_through_the_backend_wrapper(model):
    wrapped = MusicGen.from_model(model)
    plan = SteeringPlan((SteeringTerm({0: _direction()}, strength=0.5, target="cond",
                                      fingerprint=wrapped.fingerprint),))
    out = generate(wrapped, plan, duration_s=0.2, seed=0)
    assert out.codes.shape == (1, 4, 10) and torch.isfinite(out.audio).all()


@pytest.mark.parametrize(
    ("plan", "kwargs", "message"),
    [
        (SteeringPlan((SteeringTerm({5: _direction()}),)), {}, "layer 5 does not exist"),
        (SteeringPlan((SteeringTerm({0: torch.ones(16)}),)), {}, "width 16"),
        (SteeringPlan((SteeringTerm({0: _direction()}, fingerprint={"hidden_size": 1024}),)), {}, "hidden_size=1024"),
        (_plan(schedule=LinearRamp(0.0, 2.0)), {}, "past the end"),
        (None, {"max_new_tokens": 10}, "exactly one"),
        (None, {"context_s": 1.0}, "must be positive and exceed context_s"),
        (None, {"seed": -1}, "seed"),
        (None, {"guidance_scale": float("nan")}, "guidance_scale"),
        (None, {"max_length": 30}, r"sets \['max_length'\] itself"),
    ],
)
def test_invalid_requests_are_refused_before_any_forward(model, plan, kwargs, message):
    forwards = []
    handle = model.decoder.model.decoder.embed_positions.register_forward_pre_hook(
        lambda m, a: forwards.append(1)
    )
    try:
        with pytest.raises(ValueError, match=message):
            generate(model, plan, **_text(), **{"duration_s": 1.0, "window_s": 0.5, "context_s": 0.2, **kwargs})
    finally:
        handle.remove()
    assert forwards == []

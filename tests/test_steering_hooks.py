"""Hook-level behaviour of apply_plan on a tiny MusicGen: exact added vectors, rows, positions, cleanup."""

from contextlib import ExitStack, nullcontext

import pytest
import torch

from musicrfm.steering.hooks import apply_plan
from musicrfm.steering.plan import SteeringPlan, SteeringTerm
from steering_support import model  # noqa: F401 - pytest fixture

D, K, DELAY = 32, 4, 3


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _vector(seed):
    return torch.randn(D, generator=torch.Generator().manual_seed(seed))


class LayerRecorder:
    """Records a layer's output before and after the plan's hook, and each forward's (cache length, n)."""

    def __init__(self, model, layer):
        self.decoder = model.decoder.model.decoder
        self.layer = layer
        self.raw, self.final, self.forwards = [], [], []
        self.handles = [
            self.decoder.embed_positions.register_forward_pre_hook(
                lambda module, args: self.forwards.append((int(args[1]), args[0].shape[-1]))
            ),
            self.decoder.layers[layer].register_forward_hook(lambda m, a, out: self.raw.append(out.clone())),
        ]

    def watch_steered(self):
        """Call inside the plan's context, so this hook runs after the plan's."""
        hook = lambda m, a, out: self.final.append(out.clone())  # noqa: E731
        self.handles.append(self.decoder.layers[self.layer].register_forward_hook(hook))

    def deltas(self):
        return [final - raw for raw, final in zip(self.raw, self.final)]

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _hook_counts(model):
    decoder = model.decoder.model.decoder
    return len(decoder.embed_positions._forward_pre_hooks), [len(layer._forward_hooks) for layer in decoder.layers]


def _text(batch=2):
    ids = torch.randint(0, 100, (batch, 5), generator=torch.Generator().manual_seed(1))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _prompt(batch=2, frames=5):
    return torch.randint(0, 64, (batch * K, frames), generator=torch.Generator().manual_seed(2))


def _run_recorded(model, plan, layer, **apply_kwargs):
    recorder = LayerRecorder(model, layer)
    try:
        with apply_plan(plan, model, **apply_kwargs) as bound:
            recorder.watch_steered()
            torch.manual_seed(0)
            model.generate(**_text(), decoder_input_ids=_prompt(), max_new_tokens=10, do_sample=True,
                           guidance_scale=3.0)
    finally:
        recorder.remove()
    return recorder, bound


def test_added_vector_is_strength_weight_schedule_direction_on_the_right_rows(model):
    v_cond, v_uncond, v_both = _vector(10), _vector(11), _vector(12)
    schedule = lambda step: 0.25 + 0.1 * step  # noqa: E731
    plan = SteeringPlan((
        SteeringTerm({0: _vector(9), 1: v_cond}, strength=0.7, layers={1: 0.5}, schedule=schedule, target="cond"),
        SteeringTerm({1: v_uncond}, strength=-0.4, target="uncond"),
        SteeringTerm({1: v_both}, strength=0.2, gate_p=0.5, seed=3, target="both"),
    ))
    recorder, _ = _run_recorded(model, plan, layer=1)
    gate_states = set()
    for (cache_length, n), delta in zip(recorder.forwards, recorder.deltas()):
        step = max(cache_length + n - 1 - DELAY, 0)
        assert torch.count_nonzero(delta[:, :-1]) == 0, "only the newest position may be steered"
        newest = delta[:, -1]
        expected_cond = 0.7 * 0.5 * schedule(step) * v_cond
        expected_uncond = -0.4 * v_uncond
        for rows, expected in ((slice(0, 2), expected_cond), (slice(2, 4), expected_uncond)):
            gated = newest[rows] - expected
            opened = torch.allclose(gated, (0.2 * v_both).expand_as(gated), atol=1e-5)
            closed = torch.allclose(gated, torch.zeros_like(gated), atol=1e-5)
            assert opened or closed, f"step {step}: residual is neither the gated term nor zero"
            gate_states.add(opened)
    assert gate_states == {True, False}, "a gate with p=0.5 should both open and close over the run"
    assert [f for f in recorder.forwards if f[1] > 1] == [(0, 6), (0, 6)], "prefill with prompt runs twice"


def test_gate_is_shared_by_cond_and_uncond_rows_and_repeated_prefill(model):
    plan = SteeringPlan((SteeringTerm({1: _vector(3)}, strength=1.0, gate_p=0.5, seed=5),))
    recorder, _ = _run_recorded(model, plan, layer=1)
    deltas = recorder.deltas()
    torch.testing.assert_close(deltas[0], deltas[1])  # both first forwards are step 0
    for delta in deltas:
        torch.testing.assert_close(delta[:, -1], delta[:1, -1].expand(4, D))


def test_relative_mode_scales_by_the_state_norm(model):
    direction = _vector(4)
    plan = SteeringPlan((SteeringTerm({0: direction}, strength=0.1, mode="relative"),))
    recorder, _ = _run_recorded(model, plan, layer=0)
    for raw, delta in zip(recorder.raw, recorder.deltas()):
        norms = raw[:, -1].norm(dim=-1, keepdim=True)
        torch.testing.assert_close(delta[:, -1], 0.1 * norms * direction, atol=1e-5, rtol=1e-4)


def test_steer_prompt_steers_every_prefill_position_at_its_own_step(model):
    direction = _vector(5)
    plan = SteeringPlan((SteeringTerm({1: direction}, strength=0.5, schedule=lambda step: step + 1.0),))
    recorder, _ = _run_recorded(model, plan, layer=1, steer_prompt=True)
    prefill = recorder.deltas()[0]  # positions 0..5 of the BOS + 5-frame prompt
    for position in range(prefill.shape[1]):
        expected = 0.5 * (max(position - DELAY, 0) + 1.0) * direction
        torch.testing.assert_close(prefill[:, position], expected.expand(4, D), atol=1e-5, rtol=1e-5)


def test_hooks_are_removed_on_exit_and_on_error(model):
    before = _hook_counts(model)
    plan = SteeringPlan((SteeringTerm({0: _vector(6), 1: _vector(7)}),))
    with apply_plan(plan, model):
        assert _hook_counts(model) == (before[0] + 1, [n + 1 for n in before[1]])
    assert _hook_counts(model) == before
    with pytest.raises(RuntimeError, match="boom"):
        with apply_plan(plan, model):
            raise RuntimeError("boom")
    assert _hook_counts(model) == before


def _last_state(model, *plans):
    """Layer-1 output at the newest position of one teacher-forced forward, steered by `plans` (nested)."""
    captured = []
    with ExitStack() as stack:
        for plan in plans:
            stack.enter_context(apply_plan(plan, model, cfg=False))
        # Registered after the plans' hooks, so it sees their result.
        handle = model.decoder.model.decoder.layers[1].register_forward_hook(lambda m, a, out: captured.append(out))
        stack.callback(handle.remove)
        model(**_text(1), decoder_input_ids=_prompt(1))
    return captured[0][:, -1]


def test_nested_contexts_add_up_and_remove_only_their_own_hooks(model):
    outer = SteeringPlan((SteeringTerm({1: _vector(8)}, strength=0.3),))
    inner = SteeringPlan((SteeringTerm({1: _vector(9)}, strength=-0.2),))
    base = _last_state(model)
    both = _last_state(model, outer, inner)
    torch.testing.assert_close(both - base, (0.3 * _vector(8) - 0.2 * _vector(9))[None], atol=1e-5, rtol=1e-5)
    before = _hook_counts(model)
    with apply_plan(outer, model):
        with apply_plan(inner, model):
            pass
        torch.testing.assert_close(_last_state(model) - base, 0.3 * _vector(8)[None], atol=1e-5, rtol=1e-5)
    assert _hook_counts(model) == before


def test_tuple_layer_outputs_are_steered_in_their_first_item(model):
    """transformers 4.x layers return (hidden, ...); the plan must steer the first item and keep the rest."""
    plan = SteeringPlan((SteeringTerm({1: _vector(14)}, strength=0.3),))
    base = _last_state(model)
    layer = model.decoder.model.decoder.layers[1]
    seen = []

    def untuple(module, args, output):
        seen.append(output)
        return output[0]

    with ExitStack() as stack:
        stack.callback(layer.register_forward_hook(lambda m, a, out: (out, "extra")).remove)
        stack.enter_context(apply_plan(plan, model, cfg=False))
        stack.callback(layer.register_forward_hook(untuple).remove)
        model(**_text(1), decoder_input_ids=_prompt(1))
    steered, extra = seen[0]
    assert extra == "extra"
    torch.testing.assert_close(steered[:, -1] - base, 0.3 * _vector(14)[None], atol=1e-5, rtol=1e-5)


def _guided_logits(model, plan, guidance):
    text = _text(1)
    states = model.text_encoder(**text).last_hidden_state
    doubled = {
        "encoder_outputs": (torch.cat([states, torch.zeros_like(states)]),),
        "attention_mask": torch.cat([text["attention_mask"], torch.zeros_like(text["attention_mask"])]),
        "decoder_input_ids": _prompt(1, frames=8).repeat(2, 1),
    }
    with apply_plan(plan, model) if plan else nullcontext():
        logits = model(**doubled).logits[:, :, -1].double()
    cond, uncond = logits.chunk(2)
    return uncond + guidance * (cond - uncond)


def test_cond_only_steering_moves_guided_logits_guidance_times_the_both_halves_shift(model):
    guidance, direction = 3.0, _vector(13)
    base = _guided_logits(model, None, guidance)
    shift = {
        target: (_guided_logits(model, SteeringPlan((SteeringTerm({0: direction, 1: direction}, strength=1e-3,
                                                                    target=target),)), guidance) - base).flatten()
        for target in ("cond", "uncond", "both")
    }
    # guided = uncond + g (cond - uncond): a cond-only shift d gives g d, both halves give d (linear regime).
    ratio = float(shift["cond"] @ shift["both"] / (shift["both"] @ shift["both"]))
    assert ratio == pytest.approx(guidance, rel=0.02)
    torch.testing.assert_close(shift["cond"] + shift["uncond"], shift["both"], atol=1e-5, rtol=0.02)


def test_uncond_target_without_cfg_and_odd_batches_are_refused(model):
    plan = SteeringPlan((SteeringTerm({0: _vector(1)}, target="uncond"),))
    with pytest.raises(ValueError, match="CFG-doubled"):
        with apply_plan(plan, model, cfg=False):
            pass
    cond_plan = SteeringPlan((SteeringTerm({0: _vector(1)}, target="cond"),))
    with pytest.raises(ValueError, match="even, doubled batch"):
        with apply_plan(cond_plan, model):
            model(**_text(1), decoder_input_ids=_prompt(1))
    assert _hook_counts(model) == (0, [0, 0])

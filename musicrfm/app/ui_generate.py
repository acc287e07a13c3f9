"""The Generate tab: prompt and sampling, concept rows, the live strength plot, side-by-side renders.

Concept rows live in a JSON list of job-file terms (shown, and the API's `terms` input): "Add concept"
appends the row the form describes, after the job schema has checked it. The form starts on the first
probe and its first class; a line under it says what the next Generate steers with.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from musicrfm.app.cancel import run_cancellable
from musicrfm.app.engine import AppEngine
from musicrfm.app.errors import shown_errors
from musicrfm.app.figures import strength_figure
from musicrfm.app.generation import METRIC_HEADERS, render_clip
from musicrfm.app.terms import FROM_FILE, SCHEDULE_CHOICES, SCHEDULE_EXAMPLES, GenerationSettings, concept_term, \
    strength_curves
from musicrfm.app.training import probe_targets


def build_generate_tab(engine: AppEngine, model: gr.Dropdown) -> dict[str, gr.components.Component]:
    """Lay out the tab inside the current Blocks and wire its events; returns the probe picker (others
    refresh it)."""
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", placeholder="calm piano melody", scale=3, elem_id="prompt")
        duration = gr.Number(label="Duration (s)", value=2.0, minimum=0.1, maximum=engine.limits.max_duration_s,
                             elem_id="duration")
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0)
    with gr.Accordion("Sampling and guidance", open=False):
        with gr.Row():
            top_k = gr.Number(label="top-k", value=250, precision=0, minimum=1)
            temperature = gr.Number(label="Temperature", value=1.0, minimum=0.01)
            guidance = gr.Number(label="Guidance scale (1 = off)", value=3.0, minimum=1.0)
    with gr.Group():
        gr.Markdown("### Concepts\nAdd any number of concepts; each adds strength x schedule x direction.")
        with gr.Row():
            # Custom values let API clients name probes trained after their session began; add_term checks them.
            probes = engine.library.list()
            first_targets = probe_targets(engine, probes[0]) if probes else []
            probe = gr.Dropdown(label="Probe", choices=probes, value=probes[0] if probes else None,
                                allow_custom_value=True, elem_id="concept-probe")
            target = gr.Dropdown(label="Target", choices=first_targets, allow_custom_value=True,
                                 value=first_targets[0] if first_targets else None, elem_id="concept-target")
            strength = gr.Number(label="Strength", value=0.5, elem_id="concept-strength")
            layers = gr.Textbox(label="Layers", value="all", info="all, exponential, top_k: 3 or 0, 1, -1")
        with gr.Row():
            kind = gr.Dropdown(label="Schedule", choices=list(SCHEDULE_CHOICES), value="constant")
            params = gr.Code(label="Schedule parameters (YAML)", value=SCHEDULE_EXAMPLES["constant"],
                             language="yaml", lines=4)
            schedule_file = gr.File(label="Schedule file", file_types=[".yaml", ".yml", ".json"], visible=False)
        with gr.Row():
            add = gr.Button("Add concept", elem_id="add-concept")
            remove = gr.Button("Remove last")
            clear = gr.Button("Clear")
        status = gr.Markdown(concept_status([]), elem_id="concept-status")
        terms = gr.JSON(label="Steering terms (job-file form)", value=[], elem_id="terms")
    plot = gr.Plot(label="Strength over time", value=strength_figure([]), elem_id="strength-plot")
    with gr.Row():
        run = gr.Button("Generate", variant="primary", elem_id="generate")
        stop = gr.Button("Stop", variant="stop", elem_id="stop-generate")
    with gr.Row():
        plain_audio = gr.Audio(label="Unsteered", type="filepath", elem_id="unsteered-audio")
        steered_audio = gr.Audio(label="Steered (same seed)", type="filepath", elem_id="steered-audio")
    chroma = gr.Plot(label="Chromagram of the steered clip, schedule overlaid", elem_id="chroma-plot")
    metrics = gr.Dataframe(headers=METRIC_HEADERS, label="Target accuracy", interactive=False)
    downloads = gr.File(label="Downloads: audio and the job file for `musicrfm render`", file_count="multiple")

    @shown_errors
    def add_term(rows, probe_name, target_name, value, layer_text, kind_name, param_text, file):
        term = concept_term(probe_name, target_name, value, layer_text, kind_name, param_text, file,
                            max_schedule_bytes=engine.limits.max_schedule_bytes)
        if term["probe"] not in engine.library.list():
            raise ValueError(f"probe: {term['probe']!r} is not in the probe library (train it in the Probes tab)")
        return [*(rows or []), term]

    @shown_errors
    def draw(model_name, seconds, rows):
        return strength_figure(strength_curves(rows or [], seconds, engine.frame_rate(model_name)))

    @shown_errors
    async def generate(model_name, text, seconds, seed_value, k, temp, scale, rows, progress=gr.Progress()):
        settings = GenerationSettings(model=model_name, prompt=text or "", duration_s=seconds, seed=seed_value,
                                      top_k=k, temperature=temp, guidance_scale=scale)
        clip = await run_cancellable(lambda token: render_clip(engine, settings, rows or [], token,
                                                               lambda f, desc: progress(f, desc=desc)))
        files = list(dict.fromkeys(str(p) for p in (clip.unsteered, clip.steered, clip.job_file)))
        return str(clip.unsteered), str(clip.steered), clip.chroma, clip.metrics, files

    # Drawn after each edit of the rows; `.input` fires on user edits (Gradio 6 skips `.change` there).
    plot_inputs = [model, duration, terms]
    edits = [add.click(add_term, [terms, probe, target, strength, layers, kind, params, schedule_file], terms,
                       api_name="add_term"),
             remove.click(lambda rows: (rows or [])[:-1], terms, terms, api_name=False),
             clear.click(lambda: [], None, terms, api_name=False)]
    for edit in edits:
        edit.success(draw, plot_inputs, plot, api_name=False)
        edit.success(concept_status, terms, status, api_name=False)
    gr.on([duration.input, model.input], draw, plot_inputs, plot, api_name="strength_plot")
    kind.input(_schedule_form, kind, [params, schedule_file], api_name=False)
    probe.input(shown_errors(lambda name: gr.update(choices=probe_targets(engine, name) if name else [], value=None)),
                probe, target, api_name=False)
    event = run.click(generate, [model, prompt, duration, seed, top_k, temperature, guidance, terms],
                      [plain_audio, steered_audio, chroma, metrics, downloads], api_name="generate",
                      concurrency_limit=4)
    # Stop (like a client's job.cancel()) cancels the event; run_cancellable passes that on to the decoding.
    stop.click(lambda: gr.Info("Stopping the generation"), None, None, cancels=[event], api_name=False)
    return {"probe": probe}


def concept_status(rows: list[dict[str, Any]] | None) -> str:
    """What the next Generate will steer with, so the form is never mistaken for an added concept.

    >>> concept_status([])[:28]
    '**No concept added yet.** Ge'
    """
    if not rows:
        return ("**No concept added yet.** Generate renders unsteered audio only; press **Add concept** to "
                "steer with the form above.")
    names = ", ".join(f"{row['probe']}:{row.get('target') or '-'} x {row['strength']}" for row in rows)
    return f"**{len(rows)} concept(s) will steer the next generation:** {names}"


def _schedule_form(kind: str) -> tuple[Any, Any]:
    """The parameters box (with the kind's example) or the file upload, whichever the kind needs."""
    from_file = kind == FROM_FILE
    return (gr.update(value=SCHEDULE_EXAMPLES.get(kind, ""), visible=not from_file),
            gr.update(visible=from_file))

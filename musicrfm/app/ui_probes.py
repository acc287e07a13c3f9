"""The Probes tab: train a probe on a built-in concept dataset (with progress) into the library, and
inspect the probes already there."""

from __future__ import annotations

import gradio as gr

from musicrfm.app.cancel import run_cancellable
from musicrfm.app.engine import AppEngine
from musicrfm.app.errors import shown_errors
from musicrfm.app.training import SEARCH_BUDGETS, TrainRequest, probe_overview, train_and_save
from musicrfm.data import CONCEPTS


def build_probes_tab(engine: AppEngine, model: gr.Dropdown) -> dict[str, gr.components.Component]:
    """Lay out the tab and wire its events; returns its train button and library picker (for refreshes)."""
    with gr.Accordion("Train a probe", open=True):
        with gr.Row():
            concept = gr.Dropdown(label="Concept", choices=sorted(CONCEPTS), value="notes")
            classes = gr.Textbox(label="Classes (comma-separated; empty = all)", value="C, D, E, F, G, A, B")
            target = gr.Textbox(label="Target (empty = multiclass or regression)", value="")
        with gr.Row():
            clips = gr.Number(label="Clips per class", value=10, precision=0, minimum=5,
                              maximum=engine.limits.max_clips_per_class)
            seconds = gr.Number(label="Clip length (s)", value=1.0, minimum=0.25, maximum=8.0)
            layers = gr.Textbox(label="Layers", value="all")
            budget = gr.Radio(label="Search budget", choices=list(SEARCH_BUDGETS), value="quick")
            seed = gr.Number(label="Seed", value=0, precision=0, minimum=0)
        name = gr.Textbox(label="Save as (library name)", placeholder="notes_v1", elem_id="probe-name")
        with gr.Row():
            train = gr.Button("Train and save", variant="primary", elem_id="train-probe")
            stop = gr.Button("Stop", variant="stop")
    with gr.Accordion("Library", open=True):
        with gr.Row():
            picker = gr.Dropdown(label="Probe", choices=engine.library.list(), allow_custom_value=True,
                                 elem_id="library-probe")
            refresh = gr.Button("Refresh", scale=0)
        gr.Markdown(f"Library folder: `{engine.library.root}`")
    scores = gr.Plot(label="Per-layer scores", elem_id="probe-scores")
    info = gr.JSON(label="Probe details")

    @shown_errors
    async def run(model_name, concept_name, class_text, target_text, count, length, layer_text, budget_name,
                  seed_value, probe_name, progress=gr.Progress()):
        request = TrainRequest(model=model_name, concept=concept_name, name=(probe_name or "").strip(),
                               classes=class_text or "", target=target_text or "", n_per_class=count,
                               duration_s=length, layers=layer_text, budget=budget_name, seed=seed_value)
        await run_cancellable(lambda token: train_and_save(engine, request, token,
                                                           lambda f, desc: progress(f, desc=desc)))
        details, figure = probe_overview(engine, request.name)
        return figure, details, gr.update(choices=engine.library.list(), value=request.name)

    @shown_errors
    def inspect(probe_name):
        if not probe_name:
            raise ValueError("probe: pick a probe from the library")
        details, figure = probe_overview(engine, probe_name)
        return figure, details

    event = train.click(run, [model, concept, classes, target, clips, seconds, layers, budget, seed, name],
                        [scores, info, picker], api_name="train_probe")
    stop.click(lambda: gr.Info("Stopping the training"), None, None, cancels=[event], api_name=False)
    picker.input(inspect, picker, [scores, info], api_name="probe_info")
    refresh.click(lambda: gr.update(choices=engine.library.list()), None, picker, api_name=False)
    return {"train": event, "picker": picker}

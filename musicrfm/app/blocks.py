"""`build_app(engine)`: the whole app as a `gr.Blocks`, with no state outside the engine and the sessions.

>>> import tempfile
>>> from musicrfm.app.engine import AppEngine
>>> from musicrfm.probes import ProbeLibrary
>>> demo = build_app(AppEngine(library=ProbeLibrary(tempfile.mkdtemp())))
>>> {"generate", "add_term", "train_probe", "lab_fit", "modular"} <= {f.api_name for f in demo.fns.values()}
True
"""

from __future__ import annotations

import gradio as gr

from musicrfm.app.engine import AppEngine
from musicrfm.app.ui_generate import build_generate_tab
from musicrfm.app.ui_lab import build_lab_tab
from musicrfm.app.ui_probes import build_probes_tab

INTRO = """# musicrfm
Steer MusicGen with concept directions learned by Recursive Feature Machines. **Generate** steers a model with
probes from the library; **Probes** trains new ones; the **AGOP lab** shows the feature learning on its own."""


def build_app(engine: AppEngine, *, model: str | None = None) -> gr.Blocks:
    """The app for `engine`; `model` preselects a model name (default: the engine's first choice)."""
    if not isinstance(engine, AppEngine):
        raise TypeError(f"engine must be an AppEngine, got {type(engine).__name__}")
    choices = list(engine.model_choices)
    chosen = model or (choices[0] if choices else None)
    if chosen is not None and chosen not in choices:
        choices.append(chosen)
    with gr.Blocks(title="musicrfm") as demo:
        gr.Markdown(INTRO)
        picker = gr.Dropdown(label="Model (or type a local folder)", choices=choices, value=chosen,
                             allow_custom_value=True, elem_id="model")
        with gr.Tabs():
            with gr.Tab("Generate", id="generate"):
                generate = build_generate_tab(engine, picker)
            with gr.Tab("Probes", id="probes"):
                probes = build_probes_tab(engine, picker)
            with gr.Tab("AGOP lab", id="lab"):
                build_lab_tab(engine)
        library = [generate["probe"], probes["picker"]]

        def listed():
            names = engine.library.list()
            return [gr.update(choices=names) for _ in library]

        # Every session and every finished training sees the library as it is now.
        demo.load(listed, None, library, api_name=False)
        probes["train"].then(listed, None, library, api_name=False)
    return demo

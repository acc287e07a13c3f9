"""The musicrfm Gradio app: steered generation, probe training and the AGOP lab, over the Python API.

`build_app(engine)` returns the `gr.Blocks`; the engine (models, probe library, the task lock) is
injectable, so tests run the real app on a tiny model. `main(argv)` launches it (`musicrfm app`).

>>> from musicrfm.app import AppEngine, build_app, main
>>> callable(main) and callable(build_app)
True
"""

from musicrfm.app.blocks import build_app
from musicrfm.app.engine import AppEngine, CancelToken, Cancelled, Limits, default_loader
from musicrfm.app.launch import main

__all__ = ["AppEngine", "CancelToken", "Cancelled", "Limits", "build_app", "default_loader", "main"]

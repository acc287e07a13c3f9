"""The musicrfm Gradio app: steered generation, probe training and the AGOP lab, over the Python API.

`build_app(engine)` returns the `gr.Blocks`; the engine (models, probe library, task locks) is
injectable, so tests run the real app on a tiny model. `main(argv)` launches it (`musicrfm app`).

>>> from musicrfm.app import Limits
>>> Limits().max_duration_s, Limits(max_csv_rows=100).max_csv_rows   # what one request may ask for
(30.0, 100)
"""

from musicrfm.app.blocks import build_app
from musicrfm.app.cancel import CancelToken, Cancelled, run_cancellable
from musicrfm.app.engine import AppEngine, Limits, default_loader, training_twin
from musicrfm.app.launch import main

__all__ = ["AppEngine", "CancelToken", "Cancelled", "Limits", "build_app", "default_loader", "main", "run_cancellable",
           "training_twin"]

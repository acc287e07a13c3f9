"""`main(argv)`: launch the app (`musicrfm app ...` and `python apps/musicrfm_app.py ...` both call it).

>>> args = parse_args(["--port", "7861", "--model", "toy"])
>>> args.host, args.port, args.share, args.model
('127.0.0.1', 7861, False, 'toy')
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from musicrfm.app.blocks import build_app
from musicrfm.app.engine import AppEngine, Limits, default_loader
from musicrfm.probes import ProbeLibrary


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The launcher's options."""
    parser = argparse.ArgumentParser(prog="musicrfm app", description="The musicrfm Gradio app (offline by default).")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link (off by default)")
    parser.add_argument("--model", default="toy", help="model preselected in the picker (default: toy)")
    parser.add_argument("--probes", default=None, metavar="DIR", help="probe library folder")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto")
    parser.add_argument("--max-duration", type=float, default=30.0, help="longest clip a request may ask for (s)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must lie in 1..65535, got {args.port}")
    if not args.max_duration > 0:
        parser.error(f"--max-duration must be positive, got {args.max_duration}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Launch the app and serve until interrupted; returns 0."""
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    engine = AppEngine(loader=default_loader(args.device), library=ProbeLibrary(args.probes),
                       limits=Limits(max_duration_s=args.max_duration))
    demo = build_app(engine, model=args.model)
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(engine.work_dir)],
        max_file_size=10 * engine.limits.max_upload_bytes, show_error=True,
    )
    return 0

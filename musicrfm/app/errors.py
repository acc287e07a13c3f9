"""Failures as one-line messages in the UI, never stack traces.

Validation errors (ValueError, TypeError) show their own message; a Stop shows as a notice; anything
unexpected shows its type and message while the traceback goes to the server log only.

>>> import gradio as gr
>>> @shown_errors
... def handler(x):
...     raise ValueError("duration: must be positive")
>>> try:
...     handler(1)
... except gr.Error as error:
...     print(error.message)
duration: must be positive
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from musicrfm.app.engine import Cancelled

LOG = logging.getLogger("musicrfm.app")


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def shown_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Gradio handler so every failure reaches the user as a `gr.Error` message."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Cancelled as error:
            raise gr.Error(f"Stopped: {one_line(error)}", title="Stopped") from None
        except (ValueError, TypeError) as error:
            raise gr.Error(one_line(error)) from None
        except Exception as error:  # noqa: BLE001 - the UI's last line of defence; the log keeps the traceback
            LOG.exception("request failed")
            raise gr.Error(f"{type(error).__name__}: {one_line(error)}") from None

    return wrapped

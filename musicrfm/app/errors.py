"""Failures as one-line messages in the UI, never stack traces.

Validation errors (ValueError, TypeError) show their own message and leave one warning line in the server
log; a Stop shows as a notice; anything unexpected shows its type and message while the traceback goes to
the server log (once: Gradio is told not to print its own). A cancelled
request's `asyncio.CancelledError` is not an Exception and passes through untouched, as Gradio needs.

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
import inspect
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from musicrfm.app.cancel import Cancelled

LOG = logging.getLogger("musicrfm.app")


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def shown_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Gradio handler (plain or async) so every failure reaches the user as a `gr.Error` message."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - mapped to a message (or re-raised) by ui_error
                raise ui_error(error) from None

        return awaited

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - mapped to a message (or re-raised) by ui_error
            raise ui_error(error) from None

    return wrapped


def ui_error(error: Exception) -> gr.Error:
    """The message a failure shows in the UI; a user's bad input is one warning line in the server log,
    an unexpected failure its traceback."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, Cancelled):
        LOG.info("request stopped: %s", one_line(error))
        return gr.Error(f"Stopped: {one_line(error)}", title="Stopped", print_exception=False)
    if isinstance(error, (ValueError, TypeError)):
        LOG.warning("refused a request: %s", one_line(error))
        return gr.Error(one_line(error), print_exception=False)
    LOG.error("request failed", exc_info=error)
    return gr.Error(f"{type(error).__name__}: {one_line(error)}", print_exception=False)

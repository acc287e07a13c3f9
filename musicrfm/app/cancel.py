"""Stopping running work: a per-request `CancelToken`, and `run_cancellable`, which runs blocking work in a
worker thread and sets its token when Gradio cancels the request.

Gradio cancels a request (the browser's Stop button and a client's `job.cancel()` both POST to `/cancel`)
by cancelling the asyncio task that awaits the handler. A plain function running in Gradio's thread pool
would not notice and would go on holding the model; here the handler awaits the worker, so the
cancellation lands in `run_cancellable`, which sets the token, waits until the work has stopped at its
next checkpoint, and only then lets the cancellation finish.

>>> import asyncio
>>> def count(token):
...     token.check()
...     return 3
>>> asyncio.run(run_cancellable(count))
3
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a running task when its request was cancelled."""


class CancelToken:
    """A stop flag that running work checks at its checkpoints (decoder forwards, training stages)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running task to stop at its next checkpoint."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the request was cancelled."""
        if self._event.is_set():
            raise Cancelled("stopped by the user")


async def run_cancellable(work: Callable[[CancelToken], T]) -> T:
    """`work(token)` in a worker thread; cancelling the awaiting task sets the token and waits for the work
    to stop before the cancellation goes on, so the next request finds the model free."""
    if not callable(work):
        raise TypeError(f"work must be callable as work(token), got {type(work).__name__}")
    token = CancelToken()
    # The worker runs in the request's context: Gradio finds the request's progress bar through it.
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(None, context.run, work, token)
    try:
        # Shielded, so a cancellation reaches this coroutine without abandoning the worker's result.
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.cancel()
        with contextlib.suppress(Exception):  # the work's own `Cancelled` is the expected outcome now
            await future
        raise

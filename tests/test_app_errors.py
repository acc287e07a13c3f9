"""How the app reports failures: one line for the user, one warning line (not a traceback) in the server log
for bad input, the traceback only for what nobody expected."""

import logging

import pytest

from musicrfm.app.cancel import Cancelled
from musicrfm.app.errors import ui_error


@pytest.mark.parametrize("error, level", [(ValueError("duration: must be positive"), logging.WARNING),
                                          (TypeError("strength: must be a number"), logging.WARNING),
                                          (Cancelled("stopped by the user"), logging.INFO)])
def test_a_users_bad_input_is_one_log_line_without_traceback(caplog, error, level):
    with caplog.at_level(logging.INFO, logger="musicrfm.app"):
        shown = ui_error(error)
    assert shown.print_exception is False  # Gradio would otherwise print the whole stack to the console
    assert [(r.levelno, r.exc_info) for r in caplog.records] == [(level, None)]
    assert str(error) in caplog.records[0].getMessage() and "\n" not in caplog.records[0].getMessage()


def test_an_unexpected_failure_logs_its_traceback_once(caplog):
    with caplog.at_level(logging.INFO, logger="musicrfm.app"):
        shown = ui_error(RuntimeError("CUDA out of memory"))
    assert shown.message == "RuntimeError: CUDA out of memory" and shown.print_exception is False
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None

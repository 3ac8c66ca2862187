"""What SIGINT (Ctrl-C) and SIGTERM do to a command (docs/scenarios.md, "Signals").

The first of them asks the work in hand to stop at a safe point: ``sim run`` ends the
simulation at its next task switch and prints a partial summary, with every log line and
valid trace and metrics files; ``sim explore`` stops its worker processes and prints the
schedules explored so far. A second signal stops at once. Outside such work (loading a
scenario, say) the first one stops at once. The exit code is 130 after SIGINT and 143
after SIGTERM (128 + the signal's number, as shells report a signal).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: The exit codes of a command stopped by a signal.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class _State:
    #: The first stop signal this command received, or None.
    first: int | None = None


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """For one command: forget earlier signals, and let SIGTERM stop the command the way
    Ctrl-C does (KeyboardInterrupt) where no `stop_signals` is in place. The SIGTERM
    handler before it is put back on the way out (a test suite that calls commands goes
    on being stoppable by SIGTERM)."""
    _State.first = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def received() -> bool:
    """Whether a stop signal came during this command (`handling`)."""
    return _State.first is not None


def stopped_exit_code() -> int:
    """130 if SIGINT stopped the command (or nothing did), 143 if SIGTERM did."""
    return EXIT_TERMINATED if _State.first == signal.SIGTERM else EXIT_INTERRUPTED


def stopped_by() -> str:
    """What stopped the command, for messages: "interrupted" or "terminated"."""
    return "terminated (SIGTERM)" if _State.first == signal.SIGTERM else "interrupted"


def _terminate(signum: int, frame: FrameType | None) -> None:
    if _State.first is None:
        _State.first = signum
    _stop_at_once(frame)


def _stop_at_once(frame: FrameType | None) -> None:
    # The SIGINT handler in place raises KeyboardInterrupt where that is safe: Python's
    # default one at once, trio's (inside trio.run) now or at its next checkpoint.
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals(request_stop: Callable[[], None], *, second_stops_at_once: bool = True) -> Iterator[None]:
    """While inside: the first SIGINT or SIGTERM calls ``request_stop`` (it must only set
    flags: it runs in a signal handler), a second stops at once: through the SIGINT
    handler in place before (trio's, inside trio.run), or, without
    ``second_stops_at_once``, by calling ``request_stop`` again, for work that checks
    for it between steps and stops at once itself."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous_int = signal.getsignal(signal.SIGINT)
    previous_term = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        if _State.first is None:
            _State.first = signum
            request_stop()
            return
        if not second_stops_at_once:
            request_stop()
            return
        signal.signal(signal.SIGINT, previous_int)
        _stop_at_once(frame)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)

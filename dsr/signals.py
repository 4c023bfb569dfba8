"""Signals: SIGTERM behaves like Ctrl-C, and an interrupt never cuts a save short.

``dsr`` turns SIGTERM (``kill``, a batch system's time limit) into ``KeyboardInterrupt``,
so that a fit saves its last completed epoch and marks the run ``interrupted`` either way.
While that save runs, further SIGINT/SIGTERM are held back and re-raised once it is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise ``KeyboardInterrupt`` in the main thread, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM during the block; if one came, raise ``KeyboardInterrupt`` after it.

    Signal handlers belong to the main thread; elsewhere (a fit in a worker thread) the block runs unshielded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in _INTERRUPTS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if pending:
        raise KeyboardInterrupt

"""Human-readable output: the rich console for results on stdout, and notices on stderr."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 10_000
"""Line width when stdout is not a terminal: long enough that no line of dsr's output wraps."""


def stdout_console() -> Console:
    """A console on stdout: the terminal's width in a terminal; piped or redirected, lines as long as
    their content (rich would wrap them at 80 columns) and no colours."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


LOADING_NOTICE = (
    "loading dsr's numerical kernels (Numba compiles them on the first run after installing or upgrading dsr: about 20 s)"
)


@contextlib.contextmanager
def slow_notice(text: str, after: float = 2.0) -> Iterator[None]:
    """Print ``text`` on stderr if the block is still running after ``after`` seconds.

    For waits that are long only sometimes (imports that compile on a cold Numba cache),
    so that a fast run stays quiet and a slow one says why it is slow.
    """
    timer = threading.Timer(after, lambda: print(text, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()

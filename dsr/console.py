"""The rich console that prints human-readable results on stdout."""

from __future__ import annotations

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

"""The one exception type that reaches users as a one-line message.

Anything the user can fix (a wrong path, a bad option value, unusable data) raises
:class:`DsrError` with a message that names the problem and the fix. The CLI prints
it as ``dsr: error: <message>`` and exits with code 2, without a traceback; library
users catch it like any other exception (it subclasses ``ValueError``).
"""

from __future__ import annotations


class DsrError(ValueError):
    """A problem with the user's input, stated in one line with its fix."""

    exit_code: int = 2


class FitDiverged(DsrError):
    """A fit whose loss or parameters stayed non-finite after every rollback (exit code 3, so scripts can retry)."""

    exit_code: int = 3

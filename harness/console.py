"""Rich consoles for the CLI: piped output (CI logs, files) gets a wide console so tables and
reasons are not folded or cut at 80 columns."""

from __future__ import annotations

import sys

from rich.console import Console


def stdout_console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200)


def stderr_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 200)

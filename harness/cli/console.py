"""Rich consoles for the CLI: piped output (CI logs, files) gets a wide console so tables and
reasons are not folded or cut at 80 columns."""

from __future__ import annotations

import sys

from rich.console import Console


def stdout_console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200)


def stderr_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def reflowed(text: str) -> str:
    """A docstring's help as paragraphs the terminal wraps: rich help keeps every line break, so a
    line of 88 columns became one of 80 and one of 8 ("a crash  or a" / "hang costs ..."). A line
    break stays where the next line is indented (an example's second command)."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.split("\n")
        out = lines[0]
        for line in lines[1:]:
            out += ("\n" + line) if line[:1].isspace() else (" " + line)
        paragraphs.append(out)
    return "\n\n".join(paragraphs)


def table(title: str, columns: tuple[str, ...] | list[str], prose: tuple[str, ...] = ("reason", "note")):
    """A rich Table whose names and numbers never wrap mid-word ("ML-KEM-76 / 8"); only prose
    columns (reasons, notes) wrap, at word boundaries, when the table is wider than the console."""
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        if col in prose:
            t.add_column(col, overflow="fold", ratio=1)
        else:
            t.add_column(col, no_wrap=True)
    return t


def listing(columns: tuple[str, ...] | list[str], rows: list[list[str]], right: tuple[str, ...] = ()) -> str:
    """Plain aligned columns under a header: for listings of thousands of lines (a rich Table takes
    about a millisecond a row to lay out), one line per row, never wrapped."""
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(w) if col in right else cell.ljust(w)
                         for col, cell, w in zip(columns, cells, widths, strict=True)).rstrip()

    return "\n".join([line(columns), "  ".join("─" * w for w in widths), *map(line, rows)])


class Notes:
    """Long texts (a library's 900-character install hint) printed once, referred to by number.

    `ref` returns the text when short, else its first words and "(note N)"; `print` writes each
    long text once, in full, after the table that refers to it.
    """

    def __init__(self, limit: int = 120) -> None:
        self.limit = limit
        self._numbers: dict[str, int] = {}
        self._printed: set[int] = set()

    def ref(self, text: str) -> str:
        text = " ".join(str(text).split())
        if len(text) <= self.limit:
            return text
        number = self._numbers.setdefault(text, len(self._numbers) + 1)
        head = text[:60].rsplit(" ", 1)[0]
        return f"{head} … (note {number})"

    def print(self, console: Console) -> None:
        for text, number in self._numbers.items():
            if number not in self._printed:
                console.print(f"note {number}: {text}", markup=False, highlight=False)
                self._printed.add(number)

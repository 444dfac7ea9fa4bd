"""The CLI's one error boundary: every command's data and OS errors become one located line on
stderr and exit 2; a bug becomes one line naming the file that holds its traceback and exit 3.

A user never sees a traceback. Messages name the file at fault wherever the error knows it (an
OSError's filename, or the message the raising code located); the modules that read files are
responsible for saying which file, the boundary only makes sure nothing escapes unformatted.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import traceback

import typer
from typer.core import TyperGroup

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command its pipe's reader left


def _data_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean the input or the environment is unusable, not that qsbench is wrong.

    Library error types are looked up only when the library was imported by the command,
    so the boundary costs no start-up time.
    """
    types: list[type[BaseException]] = [OSError, ValueError, UnicodeError]  # not KeyError: mostly a bug
    for module, name in (("yaml", "YAMLError"), ("duckdb", "Error"), ("pyarrow", "ArrowException"),
                         ("harness.scenario", "ScenarioInvalid"), ("harness.rundata", "RunDirError"),
                         ("harness.registry", "UnknownPlugin")):
        found = getattr(sys.modules.get(module), name, None)
        if isinstance(found, type):
            types.append(found)
    return tuple(types)


def describe(exc: BaseException) -> str:
    """One line (or the raiser's own lines) that says what is wrong and, where known, where."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
    text = str(exc).strip()
    return text or type(exc).__name__


def _command_name(ctx: typer.Context, exc: BaseException) -> str:
    """"qsbench kme certs", not "qsbench kme": the innermost command the error came through. Its
    context is gone by the time the error reaches the top group, but the frames that ran it hold it
    (every context of one invocation is of the top one's class: typer's own copy of click's)."""
    deepest = ctx
    frame = exc.__traceback__
    while frame is not None:
        found = frame.tb_frame.f_locals.get("ctx")
        deepest = found if isinstance(found, type(ctx)) else deepest
        frame = frame.tb_next
    names = []
    while deepest.parent is not None:
        names.append(deepest.info_name)
        deepest = deepest.parent
    return " ".join(["qsbench", *reversed(names)])


class GuardedGroup(TyperGroup):
    """The top-level command group: runs the chosen command inside the boundary. Every command's
    help under it is reflowed to the terminal's width (console.reflowed)."""

    def __init__(self, *args, **kwargs) -> None:
        from harness.cli.console import reflowed

        super().__init__(*args, **kwargs)
        todo = list(self.commands.values())
        while todo:
            command = todo.pop()
            if command.help:
                command.help = reflowed(inspect.cleandoc(command.help))
            todo += getattr(command, "commands", {}).values()

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, exits: typer formats them
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:  # the reader left (`| head`): no one to tell, and no error of the input
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit's flush
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except _data_error_types() as exc:
            print(f"{_command_name(ctx, exc)}: error: {describe(exc)}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
            with tempfile.NamedTemporaryFile("w", prefix="qsbench-crash-", suffix=".txt",
                                             delete=False) as fh:
                traceback.print_exception(exc, file=fh)
            print(f"{_command_name(ctx, exc)}: internal error (a bug in qsbench, please report it): "
                  f"{type(exc).__name__}: {describe(exc)}; traceback in {fh.name}", file=sys.stderr)
            raise typer.Exit(EXIT_INTERNAL) from None

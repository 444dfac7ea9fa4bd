"""``qsbench keyrate``: decoy-state BB84 key rate against distance for a device profile."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harness.cli.console import stdout_console

if TYPE_CHECKING:  # numpy and the QKD core are imported when the command runs, not by `qsbench --help`
    import numpy as np

    from harness.qkd.sweep import KeyRateSweep


def parse_distances(spec: str) -> np.ndarray:
    """'START:STOP:STEP' in km, STOP included (e.g. 0:200:5); a single number is one distance."""
    import numpy as np

    parts = spec.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise typer.BadParameter(f"{spec!r}: expected START:STOP:STEP in km, e.g. 0:200:5") from exc
    if len(values) == 1:
        values = [values[0], values[0], 1.0]
    if len(values) != 3 or values[2] <= 0 or values[0] < 0 or values[1] < values[0]:
        raise typer.BadParameter(f"{spec!r}: need 0 <= START <= STOP and STEP > 0, e.g. 0:200:5")
    start, stop, step = values
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 2000:
        raise typer.BadParameter(f"{spec!r}: {count} distances; at most 2000")
    return start + step * np.arange(count)


def _num(value: float | None, fmt: str = "{:.3e}") -> str:
    return "inf" if value is None else fmt.format(value)


def _check_plot_path(path: Path) -> None:
    """Refuse an unusable --plot before the sweep runs, not after its table was computed."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in formats:
        raise typer.BadParameter(f"{str(path)!r}: the extension names the format, one of "
                                 f"{', '.join('.' + f for f in sorted(formats))}", param_hint="--plot")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"{str(path)!r}: the directory {str(path.parent)!r} does not exist",
                                 param_hint="--plot")


def _plot(result: KeyRateSweep, path: Path) -> None:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "qsbench"  # reproducible SVG ids
    rows = result.rows
    d = [r["distance_km"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [
        ("plob_bits_per_pulse", "PLOB bound", ":"), ("tgw_bits_per_pulse", "TGW bound", "-."),
        ("infinite_decoy_rate_per_pulse", "infinite decoy", "--"),
        ("asymptotic_rate_per_pulse", "vacuum + weak decoy", "-"),
        ("finite_key_rate_per_pulse", f"finite key, n = {result.block_size:.0e}, protocol optimum", "-"),
        ("finite_key_as_configured_rate_per_pulse", "finite key, device as configured", "--"),
    ]
    for key, label, style in series:
        y = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        ax.semilogy(d, np.where(y > 0, y, np.nan), style, label=label)
    ax.set_xlabel("distance (km)")
    ax.set_ylabel("secret key rate (bit per pulse)")
    ax.set_title(f"{result.profile}: max distance {result.max_distance_km:.1f} km (asymptotic)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fmt = path.suffix.lstrip(".").lower()
    fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)


ProfileOpt = Annotated[str, typer.Option(
    "--profile", "-p", help="shipped profile (gys-2004, lim-2014, high-rate-2023, free-space-ground) "
    "or the path of a profile .yaml")]
DistancesOpt = Annotated[str, typer.Option(help="START:STOP:STEP in km, STOP included")]
BlockOpt = Annotated[int | None, typer.Option(
    "--block-size", min=1, help="finite-key block in key-basis detections (default: the profile's)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")]
BackgroundOpt = Annotated[str | None, typer.Option(
    "--background", help="free-space links only: 'day' or 'night' background light (default: the profile's)")]
PlotOpt = Annotated[Path | None, typer.Option(
    "--plot", help="write a plot; the format follows the extension (.svg, .png, .pdf)")]


def keyrate(profile: ProfileOpt, distances: DistancesOpt = "0:200:5", block_size: BlockOpt = None,
            as_json: JsonOpt = False, plot: PlotOpt = None, background: BackgroundOpt = None) -> None:
    """Key rate per pulse and bit/s against distance, the maximum distance, and the PLOB/TGW bounds.

    Rates are decoy-state BB84: asymptotic with vacuum + weak decoy (Ma, Qi, Zhao, Lo 2005) and the
    infinite-decoy limit, optimised over the signal intensity at each distance; the finite key of
    Lim et al. 2014 for the given block size, at the protocol's optimum for this hardware (mu1,
    mu2, the intensity probabilities and the basis probability optimised; --json gives them) and
    for the device as configured. Bounds are bits per use of the channel alone.

    Examples:
      qsbench keyrate --profile gys-2004 --distances 0:150:10 --plot gys.svg
      qsbench keyrate -p free-space-ground --background day --json
    """
    from rich.table import Table

    from harness.qkd.profiles import ProfileError, load_profile
    from harness.qkd.sweep import sweep

    try:
        prof = load_profile(profile)
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from exc
    if background is not None:
        if background not in ("day", "night") or prof.channel.kind != "free_space":
            raise typer.BadParameter(
                f"{background!r}: 'day' or 'night', and only for a free-space profile "
                f"({prof.name} is {prof.channel.kind})", param_hint="--background")
        prof = prof.with_changes({"channel.background": background})
    if plot is not None:
        _check_plot_path(plot)
    result = sweep(prof, parse_distances(distances), block_size)
    if plot is not None:
        _plot(result, plot)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    table = Table(title=f"{result.profile} ({result.repetition_rate_hz:.3g} Hz, "
                        f"finite-key block {result.block_size:.3g})")
    for header in ("km", "eta channel", "R asym /pulse", "R asym bit/s", "R inf-decoy /pulse",
                   "R finite opt /pulse", "R finite opt bit/s", "R finite device bit/s", "PLOB /pulse",
                   "TGW /pulse"):
        table.add_column(header, justify="right")
    for r in result.rows:
        table.add_row(
            f"{r['distance_km']:g}", _num(r["channel_transmittance"]), _num(r["asymptotic_rate_per_pulse"]),
            _num(r["asymptotic_rate_bps"], "{:.4g}"), _num(r["infinite_decoy_rate_per_pulse"]),
            _num(r["finite_key_rate_per_pulse"]), _num(r["finite_key_rate_bps"], "{:.4g}"),
            _num(r["finite_key_as_configured_rate_bps"], "{:.4g}"),
            _num(r["plob_bits_per_pulse"]), _num(r["tgw_bits_per_pulse"]),
        )
    console = stdout_console()
    console.print(table)
    console.print(
        f"max distance: {result.max_distance_km:.2f} km (vacuum + weak decoy), "
        f"{result.max_distance_infinite_decoy_km:.2f} km (infinite decoy), "
        f"{result.max_distance_finite_km:.2f} km (finite key, block {result.block_size:.3g}, protocol "
        f"optimum for this hardware), {result.max_distance_finite_as_configured_km:.2f} km (finite key, "
        "device as configured)"
    )


def register(app: typer.Typer) -> None:
    """Add the ``keyrate`` command to the qsbench CLI."""
    app.command("keyrate")(keyrate)

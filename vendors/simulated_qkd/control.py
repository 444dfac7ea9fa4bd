"""The simulated device's control endpoint: what a lab's optical switch or attenuator would do.

Not part of ETSI GS QKD 014 and kept apart from it: served on the same HTTPS ports with the
same mutual TLS, under `/control/v1/`, and only to the client certificate whose one common name
is `OPERATOR` (made by `qsbench kme certs`); an SAE's certificate gets 403. Lab hook commands
drive it (see `examples/lab_hooks/`), so the recovery suite's hook path is tested end to end
against a device it sees only through ETSI 014.

    GET    /control/v1/faults   the device clock and the active faults
    POST   /control/v1/faults   {"kind": ..., "duration_s": device seconds (absent: until
                                cleared), "magnitude": for attenuation_step / qber_rise}
    DELETE /control/v1/faults   clear every fault

A fault takes effect from the device's next block (a block in progress finishes under the
conditions it started with, as a real device's acquisition does).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.adapters import Fault, NotApplicable
from harness.etsi014_pki import DEFAULT_SAE_IDS
from vendors.simulated_qkd.kme_app import ApiError, caller_identity, parse_json_object
from vendors.simulated_qkd.link import FAULT_KINDS, SimulatedLink

OPERATOR_ID = "OPERATOR"
# The client certificates `qsbench kme certs` makes: the SAEs, and the operator of the device.
CLIENT_IDS = (*DEFAULT_SAE_IDS, OPERATOR_ID)
FAULT_FIELDS = {"kind", "duration_s", "magnitude"}


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"{name} shall be a finite number")
    return float(value)


def _fault(body: dict[str, Any]) -> Fault:
    unknown = sorted(set(body) - FAULT_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s) {', '.join(unknown)[:80]}: a fault has {sorted(FAULT_FIELDS)}")
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise ApiError(400, f"kind shall be one of {list(FAULT_KINDS)}")
    duration = _number(body, "duration_s")
    return Fault(kind, math.inf if duration is None else duration, _number(body, "magnitude"))


def control_routes(link: SimulatedLink) -> list[Route]:
    """The `/control/v1/` routes driving `link`, for the operator's certificate only."""

    def operator(request: Request) -> None:
        caller = caller_identity(request)
        if caller != OPERATOR_ID:
            raise ApiError(403, f"{caller} is not the device operator: the control endpoint "
                                f"serves the {OPERATOR_ID} certificate only")

    def state() -> dict[str, Any]:
        now = link.device_time_s
        active = [{"kind": kind, "remaining_s": None if math.isinf(until) else until - now,
                   "magnitude": magnitude or None}
                  for kind, (until, magnitude) in sorted(link.active_faults().items())]
        return {"device_time_s": now, "faults": active}

    async def faults(request: Request) -> JSONResponse:
        try:
            operator(request)
            if request.method == "POST":
                try:
                    link.inject(_fault(await parse_json_object(request)))
                except (NotApplicable, ValueError) as exc:
                    raise ApiError(400, str(exc)) from None
            elif request.method == "DELETE":
                link.clear_faults()
            return JSONResponse(state())
        except ApiError as exc:
            return JSONResponse({"message": exc.message}, status_code=exc.status)

    route = Route("/control/v1/faults", faults, methods=["GET", "POST", "DELETE"])
    route.methods.discard("HEAD")  # type: ignore[union-attr]
    return [route]

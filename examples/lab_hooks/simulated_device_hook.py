#!/usr/bin/env python3
"""A lab hook for the recovery suite, driving the simulated device's control endpoint.

The recovery suite runs a fault entry's `start_hook` when the fault is due and its `clear_hook`
when it ends, with QSBENCH_FAULT_KIND, QSBENCH_FAULT_PHASE (start/clear), QSBENCH_FAULT_DURATION_S
and QSBENCH_FAULT_MAGNITUDE in the environment. This hook turns them into requests to the
device's control endpoint, as a lab's own hook would switch an optical switch or an attenuator:

    start: POST /control/v1/faults {"kind": KIND, "magnitude": ...}   (the fault lasts until cleared)
    clear: DELETE /control/v1/faults

over HTTPS with the OPERATOR client certificate of the device's PKI (`qsbench kme certs DIR`).
A hook that cannot do its job exits non-zero with the reason on stderr; the suite then fails the
case with that reason. Standard library only, so a lab can copy it next to its own.

    simulated_device_hook.py --kme https://127.0.0.1:8443 --certs ./kme-pki
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kme", required=True, help="base URL of one of the device's KMEs")
    parser.add_argument("--certs", required=True, type=Path, help="the device's PKI directory")
    args = parser.parse_args()
    phase, kind = os.environ.get("QSBENCH_FAULT_PHASE"), os.environ.get("QSBENCH_FAULT_KIND")
    if phase not in ("start", "clear") or not kind:
        print("run me as a recovery suite hook: QSBENCH_FAULT_PHASE and QSBENCH_FAULT_KIND unset",
              file=sys.stderr)
        return 2
    ctx = ssl.create_default_context(cafile=str(args.certs / "ca.pem"))
    ctx.load_cert_chain(str(args.certs / "OPERATOR.pem"), str(args.certs / "OPERATOR.key"))
    if phase == "start":
        body: dict[str, object] = {"kind": kind}
        if os.environ.get("QSBENCH_FAULT_MAGNITUDE"):
            body["magnitude"] = float(os.environ["QSBENCH_FAULT_MAGNITUDE"])
        request = urllib.request.Request(f"{args.kme}/control/v1/faults", method="POST",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
    else:
        request = urllib.request.Request(f"{args.kme}/control/v1/faults", method="DELETE")
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=10) as resp:
            state = json.load(resp)
    except urllib.error.HTTPError as exc:
        print(f"{phase} {kind}: the device answered {exc.code}: {exc.read()[:300]!r}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{phase} {kind}: cannot reach {args.kme}: {exc}", file=sys.stderr)
        return 1
    print(f"{phase} {kind}: active faults now {[f['kind'] for f in state['faults']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

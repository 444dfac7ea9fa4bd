"""A QKD link reached through any KME that speaks ETSI GS QKD 014 V1.1.1 (HTTPS, mutual TLS).

Options (all required unless marked):

    master_kme_url, slave_kme_url   e.g. https://kme-a.example:443 (no trailing /api/v1/keys)
    ca_cert                         PEM of the CA that signed the KMEs' certificates
    master_sae_id, master_cert, master_key   the master SAE's ID and client certificate/key (PEM)
    slave_sae_id, slave_cert, slave_key      the slave SAE's
    third_sae_id, third_cert, third_key      optional: an SAE of the same PKI that is no party to the
                                             link, for the conformance suite's wrong-SAE checks
    timeout_s                       optional, default 10
    declared_profile, fibre_km      optional datasheet: a qsbench device profile (name or YAML path)
                                    with the vendor's declared parameters, and the installed fibre
                                    length; suites compare measurements with them, nothing is observed

It offers `key_delivery` and the raw `etsi014` endpoints, nothing it cannot observe
through the API. Key material stays in `Key` objects and is never logged.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import (
    Adapter,
    Availability,
    Capability,
    Etsi014Endpoints,
    Key,
    KeyDeliveryError,
    Kind,
    KmeStatus,
)

_REQUIRED = ("master_kme_url", "slave_kme_url", "ca_cert", "master_sae_id", "master_cert", "master_key",
             "slave_sae_id", "slave_cert", "slave_key")
_THIRD_SAE = ("third_sae_id", "third_cert", "third_key")
_STATUS_FIELDS = ("source_KME_ID", "target_KME_ID", "master_SAE_ID", "slave_SAE_ID", "key_size",
                  "stored_key_count", "max_key_count", "max_key_per_request", "max_key_size", "min_key_size",
                  "max_SAE_ID_count")


def client_ssl_context(ca_cert: str, cert: str | None, key: str | None) -> ssl.SSLContext:
    """TLS 1.2+ client context that verifies the KME against `ca_cert` and presents `cert` (if given)."""
    ctx = ssl.create_default_context(cafile=ca_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def endpoints_from_options(options: Mapping[str, Any]) -> Etsi014Endpoints:
    missing = [k for k in _REQUIRED if not options.get(k)]
    if missing:
        raise ValueError(f"etsi014 adapter: missing option(s) {', '.join(missing)}")
    for name in ("ca_cert", "master_cert", "master_key", "slave_cert", "slave_key"):
        if not Path(options[name]).is_file():
            raise ValueError(f"etsi014 adapter: option {name}={options[name]!r} is not a readable file")
    fields = {k: str(options[k]) for k in _REQUIRED}
    fields["master_kme_url"] = fields["master_kme_url"].rstrip("/")
    fields["slave_kme_url"] = fields["slave_kme_url"].rstrip("/")
    third = {k: str(options[k]) for k in _THIRD_SAE if options.get(k)}
    return Etsi014Endpoints(**fields, **third)


class Etsi014Client:
    """KeyDelivery over ETSI GS QKD 014: enc_keys at the master's KME, dec_keys at the slave's."""

    def __init__(self, endpoints: Etsi014Endpoints, timeout_s: float = 10.0) -> None:
        import httpx  # lazy: listing vendors must not import the HTTP stack

        e = endpoints
        self.endpoints = e
        self._master = httpx.Client(verify=client_ssl_context(e.ca_cert, e.master_cert, e.master_key),
                                    timeout=timeout_s)
        self._slave = httpx.Client(verify=client_ssl_context(e.ca_cert, e.slave_cert, e.slave_key),
                                   timeout=timeout_s)

    def _call(self, client: Any, method: str, url: str, **kw: Any) -> dict[str, Any]:
        import httpx

        try:
            resp = client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise KeyDeliveryError(0, f"KME unreachable at {url}: {type(exc).__name__}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code != 200:
            message = body.get("message") if isinstance(body, dict) else None
            raise KeyDeliveryError(resp.status_code, str(message or resp.reason_phrase))
        if not isinstance(body, dict):
            raise KeyDeliveryError(resp.status_code, f"{url}: 200 without a JSON object body")
        return body

    def status(self) -> KmeStatus:
        e = self.endpoints
        body = self._call(self._master, "GET", f"{e.master_kme_url}/api/v1/keys/{e.slave_sae_id}/status")
        missing = [f for f in _STATUS_FIELDS if f not in body]
        if missing:
            raise KeyDeliveryError(200, f"Status lacks {', '.join(missing)}")
        return KmeStatus(**{f: body[f] for f in _STATUS_FIELDS},
                         status_extension=body.get("status_extension"))

    @staticmethod
    def _keys(body: dict[str, Any]) -> list[Key]:
        try:
            return [Key(str(k["key_ID"]), base64.b64decode(k["key"], validate=True)) for k in body["keys"]]
        except (KeyError, TypeError, binascii.Error):
            # Say what was wrong with the container, never echo it: it holds key material.
            raise KeyDeliveryError(200, "malformed Key container (keys[].key_ID / Base64 key)") from None

    def enc_keys(self, number: int = 1, size_bits: int | None = None) -> list[Key]:
        e = self.endpoints
        request: dict[str, Any] = {"number": number}
        if size_bits is not None:
            request["size"] = size_bits
        body = self._call(self._master, "POST", f"{e.master_kme_url}/api/v1/keys/{e.slave_sae_id}/enc_keys",
                          json=request)
        return self._keys(body)

    def dec_keys(self, key_ids: Sequence[str]) -> list[Key]:
        e = self.endpoints
        body = self._call(self._slave, "POST", f"{e.slave_kme_url}/api/v1/keys/{e.master_sae_id}/dec_keys",
                          json={"key_IDs": [{"key_ID": k} for k in key_ids]})
        return self._keys(body)

    def close(self) -> None:
        self._master.close()
        self._slave.close()


class Etsi014Adapter(Adapter):
    name: ClassVar[str] = "etsi014"
    kind: ClassVar[Kind] = Kind.QKD
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY, Capability.ETSI014})
    options_accepted: ClassVar[frozenset[str]] = frozenset({
        *_REQUIRED, *_THIRD_SAE, "timeout_s", "declared_profile", "fibre_km"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._endpoints = endpoints_from_options(self.options)
        self._client = Etsi014Client(self._endpoints, float(self.options.get("timeout_s", 10.0)))

    @classmethod
    def availability(cls) -> Availability:
        try:
            import httpx  # noqa: F401
        except ImportError:
            return Availability(False, "httpx is not installed: pip install httpx")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        return "ETSI GS QKD 014 V1.1.1 client"

    def etsi014_endpoints(self) -> Etsi014Endpoints:
        return self._endpoints

    def declared_profile(self) -> Any:
        name = self.options.get("declared_profile")
        if not name:
            return None
        from harness.qkd.profiles import load_profile

        return load_profile(str(name))

    def declared_fibre_km(self) -> float | None:
        km = self.options.get("fibre_km")
        return None if km is None else float(km)

    def status(self) -> KmeStatus:
        return self._client.status()

    def enc_keys(self, number: int = 1, size_bits: int | None = None) -> list[Key]:
        return self._client.enc_keys(number, size_bits)

    def dec_keys(self, key_ids: Sequence[str]) -> list[Key]:
        return self._client.dec_keys(key_ids)

    def close(self) -> None:
        self._client.close()

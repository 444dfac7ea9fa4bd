"""Raw HTTPS access to an ETSI GS QKD 014 link for conformance checks, with redacted evidence.

Evidence strings say what was sent and what came back, with every `key` field of
a response replaced by its length: key material never leaves this module.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from harness.adapters import Etsi014Endpoints


def _redact(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: (f"<{len(v)} Base64 chars>" if k == "key" and isinstance(v, str) else _redact(v))
                for k, v in body.items()}
    if isinstance(body, list):
        return [_redact(v) for v in body]
    return body


@dataclass
class Exchange:
    """One request and its answer (status 0: no HTTP answer, `error` says why)."""

    sent: str
    status: int
    body: Any
    content_type: str = ""
    error: str = ""

    def describe(self, limit: int = 300) -> str:
        if self.status == 0:
            return f"{self.sent} -> no answer ({self.error})"
        text = json.dumps(_redact(self.body), separators=(",", ":")) if self.body is not None else "<no JSON>"
        if len(text) > limit:
            text = text[:limit] + "…"
        return f"{self.sent} -> {self.status} {text}"


def _context(ca: str, cert: str | None, key: str | None, max_version: ssl.TLSVersion | None = None,
             min_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca)
    if min_version is not None:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let our side offer old versions, to see the KME refuse them
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class Etsi014Probe:
    def __init__(self, endpoints: Etsi014Endpoints, timeout_s: float = 10.0) -> None:
        e = self.e = endpoints
        self.timeout_s = timeout_s
        identities = {"master": (e.master_cert, e.master_key), "slave": (e.slave_cert, e.slave_key),
                      "third": (e.third_cert, e.third_key)}
        self._clients = {who: httpx.Client(verify=_context(e.ca_cert, cert, key), timeout=timeout_s)
                         for who, (cert, key) in identities.items() if cert}
        self.log: list[Exchange] = []  # every exchange, for the checks that look at all responses

    def has(self, who: str) -> bool:
        return who in self._clients

    def url(self, kme: str, sae_id: str, op: str) -> str:
        base = self.e.master_kme_url if kme == "master" else self.e.slave_kme_url
        return f"{base}/api/v1/keys/{sae_id}/{op}"

    def request(self, who: str, method: str, url: str, json_body: Any = None,
                params: list[tuple[str, str]] | None = None, client: httpx.Client | None = None,
                content: bytes | None = None, content_type: str | None = None) -> Exchange:
        query = "?" + "&".join(f"{k}={v}" for k, v in params) if params else ""
        sent = f"{who}: {method} {httpx.URL(url).path}{query}"
        if json_body is not None:
            sent += " " + json.dumps(json_body, separators=(",", ":"))
        if content is not None:
            shown = content[:80].decode("utf-8", "backslashreplace")
            sent += f" [{content_type}] {shown}{'…' if len(content) > 80 else ''}"
        headers = {"content-type": content_type} if content_type else None
        try:
            r = (client or self._clients[who]).request(method, url, json=json_body, params=params,
                                                       content=content, headers=headers)
        except httpx.HTTPError as exc:
            ex = Exchange(sent, 0, None, error=f"{type(exc).__name__}: {exc}")
            self.log.append(ex)
            return ex
        try:
            body = r.json()
        except ValueError:
            body = None
        ex = Exchange(sent, r.status_code, body, r.headers.get("content-type", ""))
        self.log.append(ex)
        return ex

    def status(self) -> Exchange:
        return self.request("master", "GET", self.url("master", self.e.slave_sae_id, "status"))

    def enc_keys(self, body: dict[str, Any] | None = None, get_params: list[tuple[str, str]] | None = None,
                 who: str = "master") -> Exchange:
        url = self.url("master", self.e.slave_sae_id, "enc_keys")
        if get_params is not None:
            return self.request(who, "GET", url, params=get_params)
        return self.request(who, "POST", url, json_body=body if body is not None else {})

    def dec_keys(self, key_ids: list[str], method: str = "POST", who: str = "slave") -> Exchange:
        url = self.url("slave", self.e.master_sae_id, "dec_keys")
        if method == "GET":
            return self.request(who, "GET", url, params=[("key_ID", k) for k in key_ids])
        return self.request(who, "POST", url, json_body={"key_IDs": [{"key_ID": k} for k in key_ids]})

    def tls_session(self, kme: str, who: str) -> dict[str, str]:
        """TLS version, cipher suite and key-exchange group `who` negotiates with a KME.

        Made with pyOpenSSL on `cryptography`'s OpenSSL, which offers the ML-KEM hybrids first,
        so a KME that supports a quantum-safe group is seen choosing it.
        """
        from OpenSSL import SSL

        base = httpx.URL(self.e.master_kme_url if kme == "master" else self.e.slave_kme_url)
        cert, key = (self.e.master_cert, self.e.master_key) if who == "master" else (self.e.slave_cert,
                                                                                     self.e.slave_key)
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.load_verify_locations(self.e.ca_cert)
        ctx.set_verify(SSL.VERIFY_PEER)
        if cert and key:
            ctx.use_certificate_file(cert)
            ctx.use_privatekey_file(key)
        deadline = time.monotonic() + self.timeout_s
        with socket.create_connection((base.host, base.port or 443), timeout=self.timeout_s) as sock:
            sock.setblocking(False)
            conn = SSL.Connection(ctx, sock)
            conn.set_tlsext_host_name(base.host.encode())
            conn.set_connect_state()
            while True:
                try:
                    conn.do_handshake()
                    break
                except (SSL.WantReadError, SSL.WantWriteError):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"TLS handshake not done within {self.timeout_s} s") from None
                    select.select([sock], [sock], [], min(left, 0.05))
            out = {"tls_version": conn.get_protocol_version_name(), "cipher": conn.get_cipher_name() or "",
                   "group": conn.get_group_name() or ""}
        return out

    def with_context(self, ctx: ssl.SSLContext, method: str, url: str) -> Exchange:
        with httpx.Client(verify=ctx, timeout=self.timeout_s) as client:
            return self.request("custom", method, url, client=client)

    def context(self, cert: bool, max_version: ssl.TLSVersion | None = None,
                min_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        e = self.e
        return _context(e.ca_cert, e.master_cert if cert else None, e.master_key if cert else None,
                        max_version, min_version)

    def wait_for_keys(self, count: int, wait_s: float) -> int:
        """Poll the status until `count` keys are stored or `wait_s` passes; return the last count seen."""
        deadline = time.monotonic() + wait_s
        while True:
            ex = self.status()
            ok = ex.status == 200 and isinstance(ex.body, dict)
            stored = ex.body.get("stored_key_count", 0) if ok else 0
            if not isinstance(stored, int):
                return 0
            if stored >= count or time.monotonic() >= deadline:
                return stored
            time.sleep(0.2)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()

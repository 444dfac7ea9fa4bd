"""The ETSI GS QKD 014 V1.1.1 REST API of one KME, as a Starlette application.

One app per end of the link: KME A serves the SAE attached at end A, KME B the
SAE at end B; both share the link's key store (`keystore.LinkKeyStore`). The
calling SAE is the common name of its verified client certificate, which the
server puts in the ASGI TLS extension (`scope["extensions"]["tls"]`, see
`kme_server`). Field names, status codes and 400 messages follow the spec;
anything the spec leaves open is said where it is decided.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.adapters import Key
from vendors.simulated_qkd.keystore import End, InsufficientKeys, KeysNotFound, LinkKeyStore, NotEntitled
from vendors.simulated_qkd.openapi import openapi_document

MSG_SIZE_NOT_MULTIPLE_OF_8 = "size shall be a multiple of 8"
MSG_EXTENSION_MANDATORY = "not all extension_mandatory parameters are supported"
MSG_KEYS_NOT_FOUND = "one or more keys specified are not found on KME"
MSG_TOO_MANY_KEYS = "number of requested keys exceeds max_key_per_request"
SIMULATED_NOTICE = ("keys from a simulated QKD device: for testing integrations only, "
                    "never for protecting data")

SAE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)  # the identifiers `qsbench kme certs` accepts
KEY_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
KEY_REQUEST_FIELDS = {"number", "size", "additional_slave_SAE_IDs", "extension_mandatory",
                      "extension_optional"}
KEY_ID_FIELDS = {"key_ID", "key_ID_extension"}
MAX_BODY_BYTES = 64 * 1024  # 128 key IDs with extensions fit many times over
MAX_JSON_DEPTH = 16
MAX_ECHOED = 16  # unknown key IDs or extension names quoted back in details
MAX_ECHO_CHARS = 80
_DECIMAL = re.compile(r"[0-9]{1,9}", re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class KmeLimits:
    key_size: int = 256
    max_key_per_request: int = 128
    min_key_size: int = 64
    max_key_size: int = 4096


@dataclass(frozen=True)
class LinkDirectory:
    """Who is where: each end's KME ID and the SAE attached there."""

    kme_ids: Mapping[End, str]
    sae_ids: Mapping[End, str]

    def end_of_sae(self, sae_id: str) -> End | None:
        return next((end for end, sae in self.sae_ids.items() if sae == sae_id), None)


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        self.status, self.message, self.details = status, message, details
        super().__init__(message)


def _error_response(exc: ApiError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": exc.message}
    if exc.details:
        body["details"] = exc.details
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _cert_identity(der: bytes) -> str:
    """The SAE ID a client certificate names: its subject's one common name, else refused.

    Read from the parsed certificate, never from a rendered subject string: an attribute
    such as O="x,CN=SAE_B" is an organisation name, not a second identity. A subject with
    no CN or with several (even equal ones) names no single SAE and is refused.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    except ValueError:
        raise ApiError(401, "the client certificate cannot be parsed") from None
    if len(names) != 1 or not isinstance(names[0], str) or not SAE_ID.fullmatch(names[0]):
        raise ApiError(401, f"the client certificate names {len(names)} common names, not exactly one "
                            "valid SAE ID: the SAE cannot be identified")
    return names[0]


def caller_identity(request: Request) -> str:
    """The SAE (or other client) ID of the request's verified client certificate; 401 without one."""
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise ApiError(401, "no verified client certificate: the SAE cannot be identified")
    return _cert_identity(ssl.PEM_cert_to_DER_cert(chain[0]))


def _int_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} shall be an integer")
    return value


def _key_container(keys: list[Key]) -> dict[str, Any]:
    return {"keys": [{"key_ID": k.key_id, "key": base64.b64encode(k.material).decode("ascii")}
                     for k in keys]}


def _object_array(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise ApiError(400, f"{name} shall be an array of objects")
    return value


class KmeApi:
    """The request handling of one KME end; `unavailable()` returns a reason to answer 503, or None."""

    def __init__(self, end: End, directory: LinkDirectory, store: LinkKeyStore, limits: KmeLimits,
                 unavailable: Callable[[], str | None]) -> None:
        if limits.key_size != store.key_size_bits:
            raise ValueError(f"KME key_size {limits.key_size} != store key size {store.key_size_bits}")
        self.end, self.directory, self.store, self.limits = end, directory, store, limits
        self._unavailable = unavailable

    # --- checks shared by the endpoints ---
    def _served(self, caller: str) -> str:
        if self.directory.end_of_sae(caller) is not self.end:
            raise ApiError(401, f"SAE {caller} is not served by KME {self.directory.kme_ids[self.end]}")
        return caller

    def _partner(self, sae_id: str, role: str) -> str:
        if sae_id != self.directory.sae_ids[self.end.other]:
            raise ApiError(400, f"{role} {_echo(sae_id)} is not reachable over this KME's links")
        return sae_id

    def _check_available(self) -> None:
        reason = self._unavailable()
        if reason:
            raise ApiError(503, f"KME cannot serve keys now: {reason}")

    # --- endpoints ---
    def status(self, caller: str, slave_sae_id: str) -> dict[str, Any]:
        master = self._served(caller)
        slave = self._partner(slave_sae_id, "slave_SAE_ID")
        self._check_available()
        lim = self.limits
        return {"source_KME_ID": self.directory.kme_ids[self.end],
                "target_KME_ID": self.directory.kme_ids[self.end.other],
                "master_SAE_ID": master, "slave_SAE_ID": slave, "key_size": lim.key_size,
                "stored_key_count": self.store.stored_key_count(), "max_key_count": self.store.max_key_count,
                "max_key_per_request": lim.max_key_per_request, "max_key_size": lim.max_key_size,
                "min_key_size": lim.min_key_size, "max_SAE_ID_count": 0,
                "status_extension": {"simulated_keys": SIMULATED_NOTICE}}

    def enc_keys(self, caller: str, slave_sae_id: str, body: Mapping[str, Any]) -> list[Key]:
        master = self._served(caller)
        slave = self._partner(slave_sae_id, "slave_SAE_ID")
        self._check_available()
        unknown = sorted(set(body) - KEY_REQUEST_FIELDS)
        if unknown:
            raise ApiError(400, f"unknown field(s) in the key request: {_echo(', '.join(unknown))}")
        number = _int_field(body.get("number", 1), "number")
        size = _int_field(body.get("size", self.limits.key_size), "size")
        mandatory = _object_array(body.get("extension_mandatory", []), "extension_mandatory")
        _object_array(body.get("extension_optional", []), "extension_optional")  # none known; ignored
        additional = body.get("additional_slave_SAE_IDs", [])
        if not isinstance(additional, list) or not all(isinstance(i, str) for i in additional):
            raise ApiError(400, "additional_slave_SAE_IDs shall be an array of strings")
        if size % 8:
            raise ApiError(400, MSG_SIZE_NOT_MULTIPLE_OF_8)
        if mandatory:
            names = sorted({k for item in mandatory for k in item})[:MAX_ECHOED] or ["?"]
            raise ApiError(400, MSG_EXTENSION_MANDATORY,
                           [{"extension_mandatory_unsupported": [_echo(n) for n in names]}])
        if additional:
            # max_SAE_ID_count is 0: this KME does not do key multicast.
            raise ApiError(400, "additional_slave_SAE_IDs are not supported (max_SAE_ID_count is 0)")
        if number < 1:
            raise ApiError(400, "number shall be at least 1")
        if number > self.limits.max_key_per_request:
            raise ApiError(400, MSG_TOO_MANY_KEYS,
                           [{"max_key_per_request": self.limits.max_key_per_request}])
        if not self.limits.min_key_size <= size <= self.limits.max_key_size:
            raise ApiError(400, f"size shall be between min_key_size {self.limits.min_key_size} "
                                f"and max_key_size {self.limits.max_key_size}")
        try:
            return self.store.take(self.end, master, slave, number, size)
        except InsufficientKeys as exc:
            raise ApiError(503, f"not enough key material stored on KME: {exc}") from None

    def dec_keys(self, caller: str, master_sae_id: str, body: Mapping[str, Any]) -> list[Key]:
        slave = self._served(caller)
        master = self._partner(master_sae_id, "master_SAE_ID")
        self._check_available()
        if set(body) - {"key_IDs", "key_IDs_extension"}:
            raise ApiError(400, "a key ID request has only key_IDs and key_IDs_extension")
        items = body.get("key_IDs")
        if isinstance(items, list) and len(items) > self.limits.max_key_per_request:
            raise ApiError(400, MSG_TOO_MANY_KEYS, [{"max_key_per_request": self.limits.max_key_per_request}])
        if not isinstance(items, list) or not items or not all(
                isinstance(i, dict) and isinstance(i.get("key_ID"), str) and set(i) <= KEY_ID_FIELDS
                for i in items):
            raise ApiError(400, "key_IDs shall be a non-empty array of objects with a key_ID string")
        ids = [i["key_ID"] for i in items]
        if not all(KEY_ID.fullmatch(k) for k in ids):
            raise ApiError(400, "every key_ID shall be a UUID (8-4-4-4-12 hexadecimal digits)")
        try:
            return self.store.release(self.end, master, slave, ids)
        except KeysNotFound as exc:
            raise ApiError(400, MSG_KEYS_NOT_FOUND,
                           [{"key_IDs_not_found": exc.key_ids[:MAX_ECHOED]}]) from None
        except NotEntitled as exc:
            raise ApiError(401, str(exc)) from None


def _echo(text: str) -> str:
    """Client text quoted back in a message: bounded, and printable ASCII only."""
    safe = text.encode("ascii", "backslashreplace").decode("ascii")
    return safe if len(safe) <= MAX_ECHO_CHARS else safe[:MAX_ECHO_CHARS] + "..."


def _no_surrogates(value: Any) -> None:
    # A JSON escape such as "\ud800" decodes to a lone surrogate, which no UTF-8 text holds;
    # refused here so nothing downstream (SQLite, logs, the response encoder) meets one.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ApiError(400, "request body holds a lone surrogate: not valid Unicode text")
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ApiError(400, "request body repeats a field name")
    return out


def _reject_constant(name: str) -> Any:
    raise ApiError(400, f"request body holds {name}, which is not JSON")


def _depth_ok(raw: bytes) -> bool:
    # Bracket nesting bounded before parsing (brackets inside strings count too: a cap, not a parser).
    depth = 0
    for byte in raw:
        if byte in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in b"]}":
            depth -= 1
    return True


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit()):
        raise ApiError(400, "Content-Length shall be a decimal number")
    if declared is not None and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes")
    return bytes(raw)


async def parse_json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object, strictly: application/json, UTF-8, bounded size and depth, no duplicates."""
    raw = await _body(request)
    if not raw.strip():
        if request.url.path.endswith("/dec_keys"):
            raise ApiError(400, "a key ID request needs a JSON body with key_IDs")
        return {}
    return parse_json_bytes(raw, request.headers.get("content-type"))


def parse_json_bytes(raw: bytes, content_type: str | None) -> dict[str, Any]:
    media, _, params = (content_type or "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if params.strip() else "utf-8"
    if media.strip().lower() != "application/json" or charset != "utf-8":
        raise ApiError(415, "request body shall be application/json in UTF-8")
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not _depth_ok(raw):
        raise ApiError(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body shall be a JSON object")
    _no_surrogates(body)
    return body


def parse_query_int(text: str, name: str) -> int:
    """A query integer in ASCII decimal digits only: no sign, fullwidth digits, '_' or spaces."""
    if not _DECIMAL.fullmatch(text):
        raise ApiError(400, f"{name} shall be a decimal integer (ASCII digits only)")
    return int(text)


def _query(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {_echo(', '.join(unknown))}")
    if len(request.url.query) > MAX_BODY_BYTES:
        raise ApiError(414, "query string too long")


def _enc_query(request: Request) -> dict[str, Any]:
    _query(request, {"number", "size"})
    out: dict[str, Any] = {}
    for name in ("number", "size"):
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise ApiError(400, f"{name} given more than once")
        if values:
            out[name] = parse_query_int(values[0], name)
    return out


def _dec_query(request: Request) -> dict[str, Any]:
    _query(request, {"key_ID"})
    ids = request.query_params.getlist("key_ID")
    if not ids:
        raise ApiError(400, "key_ID is required")
    return {"key_IDs": [{"key_ID": k} for k in ids]}


def _sae_path(request: Request) -> str:
    sae_id = request.path_params["sae_id"]
    if not SAE_ID.fullmatch(sae_id):
        raise ApiError(400, f"SAE ID {_echo(sae_id)} shall match {SAE_ID.pattern}")
    return sae_id


def make_kme_app(api: KmeApi) -> Starlette:
    """A Starlette app serving `api` under /api/v1/keys/ plus its OpenAPI document.

    Only the methods the spec names are routed (no implicit HEAD: a HEAD on enc_keys would
    consume keys and return none); everything else is 405, unknown paths 404, all in the
    spec's JSON error body.
    """
    log = logging.getLogger(__name__)

    def endpoint(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await handler(request))
            except ApiError as exc:
                return _error_response(exc)
            except Exception as exc:  # a bug: answered in JSON, logged without the request's content
                log.error("KME bug %s in %s", type(exc).__name__, request.url.path)
                return _error_response(ApiError(500, "internal error"))
        return run

    async def status(request: Request) -> dict[str, Any]:
        caller = caller_identity(request)
        _query(request, set())
        return api.status(caller, _sae_path(request))

    async def enc_keys(request: Request) -> dict[str, Any]:
        caller = caller_identity(request)
        sae = _sae_path(request)
        body = await parse_json_object(request) if request.method == "POST" else _enc_query(request)
        return _key_container(api.enc_keys(caller, sae, body))

    async def dec_keys(request: Request) -> dict[str, Any]:
        caller = caller_identity(request)
        sae = _sae_path(request)
        body = await parse_json_object(request) if request.method == "POST" else _dec_query(request)
        return _key_container(api.dec_keys(caller, sae, body))

    async def openapi(request: Request) -> dict[str, Any]:
        return openapi_document(api.limits)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = {404: "no such resource", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return _error_response(ApiError(exc.status_code, message), headers=exc.headers)

    routes = [
        Route("/api/v1/keys/{sae_id}/status", endpoint(status), methods=["GET"]),
        Route("/api/v1/keys/{sae_id}/enc_keys", endpoint(enc_keys), methods=["GET", "POST"]),
        Route("/api/v1/keys/{sae_id}/dec_keys", endpoint(dec_keys), methods=["GET", "POST"]),
        Route("/openapi.json", endpoint(openapi), methods=["GET"]),
    ]
    for route in routes:
        route.methods.discard("HEAD")  # type: ignore[union-attr]  # Starlette adds HEAD to every GET
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})

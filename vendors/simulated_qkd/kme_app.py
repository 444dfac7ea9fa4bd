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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
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


def _error_response(exc: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"message": exc.message}
    if exc.details:
        body["details"] = exc.details
    return JSONResponse(body, status_code=exc.status)


_CN = re.compile(r"(?:^|,)CN=([^,]+)")


def _caller(request: Request) -> str:
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    match = _CN.search(tls.get("client_cert_name") or "")
    if not match:
        raise ApiError(401, "no verified client certificate: the SAE cannot be identified")
    return match.group(1)


def _int_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} shall be an integer")
    return value


def _key_container(keys: list[Key]) -> dict[str, Any]:
    return {"keys": [{"key_ID": k.key_id, "key": base64.b64encode(k.material).decode("ascii")}
                     for k in keys]}


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
            raise ApiError(400, f"{role} {sae_id} is not reachable over this KME's links")
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
                "min_key_size": lim.min_key_size, "max_SAE_ID_count": 0}

    def enc_keys(self, caller: str, slave_sae_id: str, body: Mapping[str, Any]) -> list[Key]:
        master = self._served(caller)
        slave = self._partner(slave_sae_id, "slave_SAE_ID")
        self._check_available()
        number = _int_field(body.get("number", 1), "number")
        size = _int_field(body.get("size", self.limits.key_size), "size")
        if size % 8:
            raise ApiError(400, MSG_SIZE_NOT_MULTIPLE_OF_8)
        mandatory = body.get("extension_mandatory") or []
        if mandatory:
            names = sorted({k for item in mandatory if isinstance(item, dict) for k in item}) or ["?"]
            raise ApiError(400, MSG_EXTENSION_MANDATORY, [{"extension_mandatory_unsupported": names}])
        if body.get("additional_slave_SAE_IDs"):
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
        items = body.get("key_IDs")
        if not isinstance(items, list) or not items or not all(
                isinstance(i, dict) and isinstance(i.get("key_ID"), str) for i in items):
            raise ApiError(400, "key_IDs shall be a non-empty array of objects with a key_ID string")
        if len(items) > self.limits.max_key_per_request:
            raise ApiError(400, MSG_TOO_MANY_KEYS, [{"max_key_per_request": self.limits.max_key_per_request}])
        try:
            return self.store.release(self.end, master, slave, [i["key_ID"] for i in items])
        except KeysNotFound as exc:
            raise ApiError(400, MSG_KEYS_NOT_FOUND, [{"key_IDs_not_found": exc.key_ids}]) from None
        except NotEntitled as exc:
            raise ApiError(401, str(exc)) from None


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body shall be a JSON object")
    return body


def _query_ints(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("number", "size"):
        if name in request.query_params:
            try:
                out[name] = int(request.query_params[name])
            except ValueError:
                raise ApiError(400, f"{name} shall be an integer") from None
    return out


def make_kme_app(api: KmeApi) -> Starlette:
    """A Starlette app serving `api` under /api/v1/keys/ plus its OpenAPI document."""

    def endpoint(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await handler(request))
            except ApiError as exc:
                return _error_response(exc)
        return run

    async def status(request: Request) -> dict[str, Any]:
        return api.status(_caller(request), request.path_params["sae_id"])

    async def enc_keys(request: Request) -> dict[str, Any]:
        caller = _caller(request)
        body = await _json_object(request) if request.method == "POST" else _query_ints(request)
        return _key_container(api.enc_keys(caller, request.path_params["sae_id"], body))

    async def dec_keys(request: Request) -> dict[str, Any]:
        caller = _caller(request)
        if request.method == "POST":
            body = await _json_object(request)
        else:
            body = {"key_IDs": [{"key_ID": k} for k in request.query_params.getlist("key_ID")]}
        return _key_container(api.dec_keys(caller, request.path_params["sae_id"], body))

    async def openapi(request: Request) -> dict[str, Any]:
        return openapi_document(api.limits)

    return Starlette(routes=[
        Route("/api/v1/keys/{sae_id}/status", endpoint(status), methods=["GET"]),
        Route("/api/v1/keys/{sae_id}/enc_keys", endpoint(enc_keys), methods=["GET", "POST"]),
        Route("/api/v1/keys/{sae_id}/dec_keys", endpoint(dec_keys), methods=["GET", "POST"]),
        Route("/openapi.json", endpoint(openapi), methods=["GET"]),
    ])

"""The OpenAPI 3.0 document of the ETSI GS QKD 014 V1.1.1 API as this KME serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendors.simulated_qkd.kme_app import KmeLimits


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


_STR, _INT, _ANY = {"type": "string"}, {"type": "integer"}, {"type": "object"}
_SAE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}
_KEY_ID = {"type": "string", "format": "uuid",
           "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}


def _schemas(limits: KmeLimits) -> dict[str, Any]:
    number = {**_INT, "minimum": 1, "maximum": limits.max_key_per_request}
    size = {**_INT, "multipleOf": 8, "minimum": limits.min_key_size, "maximum": limits.max_key_size}
    return {
        "Status": _obj({"source_KME_ID": _STR, "target_KME_ID": _STR, "master_SAE_ID": _STR,
                        "slave_SAE_ID": _STR, "key_size": _INT, "stored_key_count": _INT,
                        "max_key_count": _INT,
                        "max_key_per_request": _INT, "max_key_size": _INT, "min_key_size": _INT,
                        "max_SAE_ID_count": _INT, "status_extension": _ANY},
                       ["source_KME_ID", "target_KME_ID", "master_SAE_ID", "slave_SAE_ID", "key_size",
                        "stored_key_count", "max_key_count", "max_key_per_request", "max_key_size",
                        "min_key_size", "max_SAE_ID_count"]),
        # Exactly what the server accepts: no multicast (max_SAE_ID_count 0) and no mandatory
        # extension, so both arrays are empty; unknown fields are refused.
        "KeyRequest": _closed({"number": number, "size": size,
                               "additional_slave_SAE_IDs": {"type": "array", "items": _SAE_ID, "maxItems": 0},
                               "extension_mandatory": {"type": "array", "items": _ANY, "maxItems": 0},
                               "extension_optional": {"type": "array", "items": _ANY}}),
        "KeyContainer": _obj({"keys": {"type": "array", "items": _obj(
            {"key_ID": _KEY_ID, "key_ID_extension": _ANY,
             "key": {"type": "string", "format": "byte"}, "key_extension": _ANY}, ["key_ID", "key"])},
            "key_container_extension": _ANY}, ["keys"]),
        "KeyIDs": _closed({"key_IDs": {"type": "array", "minItems": 1, "maxItems": limits.max_key_per_request,
                                       "items": _closed({"key_ID": _KEY_ID, "key_ID_extension": _ANY},
                                                        ["key_ID"])},
                           "key_IDs_extension": _ANY}, ["key_IDs"]),
        "Error": _obj({"message": _STR, "details": {"type": "array", "items": _ANY}}, ["message"]),
    }


def _closed(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {**_obj(props, required), "additionalProperties": False}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _responses(ok: str, body: bool = False) -> dict[str, Any]:
    out = {"200": {"description": "OK", **_ref(ok)},
           "400": {"description": "Bad request format", **_ref("Error")},
           "401": {"description": "Unauthorized", **_ref("Error")},
           "503": {"description": "Error of server side", **_ref("Error")}}
    if body:
        out["413"] = {"description": "Request body too large", **_ref("Error")}
        out["415"] = {"description": "Request body not application/json in UTF-8", **_ref("Error")}
    return out


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _SAE_ID}


def openapi_document(limits: KmeLimits) -> dict[str, Any]:
    slave, master = _path_param("slave_SAE_ID"), _path_param("master_SAE_ID")
    schemas = _schemas(limits)
    query = [{"name": "number", "in": "query", "schema": schemas["KeyRequest"]["properties"]["number"]},
             {"name": "size", "in": "query", "schema": schemas["KeyRequest"]["properties"]["size"]}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "ETSI GS QKD 014 key delivery (qsbench simulated KME)", "version": "1.1.1"},
        "paths": {
            "/api/v1/keys/{slave_SAE_ID}/status": {"get": {"summary": "Get status", "parameters": [slave],
                                                           "responses": _responses("Status")}},
            "/api/v1/keys/{slave_SAE_ID}/enc_keys": {
                "post": {"summary": "Get key", "parameters": [slave],  # no body: number 1, key_size
                         "requestBody": {"required": False, **_ref("KeyRequest")},
                         "responses": _responses("KeyContainer", body=True)},
                "get": {"summary": "Get key", "parameters": [slave, *query],
                        "responses": _responses("KeyContainer")}},
            "/api/v1/keys/{master_SAE_ID}/dec_keys": {
                "post": {"summary": "Get key with key IDs", "parameters": [master],
                         "requestBody": {"required": True, **_ref("KeyIDs")},
                         "responses": _responses("KeyContainer", body=True)},
                "get": {"summary": "Get key with key IDs",
                        "parameters": [master, {"name": "key_ID", "in": "query", "required": True,
                                                "style": "form", "explode": True,
                                                "schema": {"type": "array", "items": _KEY_ID, "minItems": 1,
                                                           "maxItems": limits.max_key_per_request}}],
                        "responses": _responses("KeyContainer")}},
        },
        "components": {"schemas": schemas},
    }

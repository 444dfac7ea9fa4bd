"""The ETSI GS QKD 014 server over real HTTPS with mutual TLS on loopback: every endpoint and error path.

The key store is filled with random bytes (identical at both ends) instead of the QKD
core's output: what is under test here is the API, not the physics.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import ssl
import uuid

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.etsi014_pki import make_test_pki
from vendors.simulated_qkd.keystore import End, LinkKeyStore
from vendors.simulated_qkd.kme_app import (
    MAX_ECHOED,
    MSG_EXTENSION_MANDATORY,
    MSG_KEYS_NOT_FOUND,
    MSG_SIZE_NOT_MULTIPLE_OF_8,
    MSG_TOO_MANY_KEYS,
)
from vendors.simulated_qkd.kme_server import KmeServer
from vendors.simulated_qkd.served import DEFAULT_DIRECTORY

STATUS_FIELDS = {"source_KME_ID": str, "target_KME_ID": str, "master_SAE_ID": str, "slave_SAE_ID": str,
                 "key_size": int, "stored_key_count": int, "max_key_count": int, "max_key_per_request": int,
                 "max_key_size": int, "min_key_size": int, "max_SAE_ID_count": int}


class Kme:
    def __init__(self, pki, store, server, flags):
        self.pki, self.store, self.server, self.flags = pki, store, server, flags
        self.a, self.b = server.urls.a, server.urls.b
        self._clients: list[httpx.Client] = []

    def client(self, sae: str | None, **ctx_kw) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        for k, v in ctx_kw.items():
            setattr(ctx, k, v)
        if sae:
            ctx.load_cert_chain(str(self.pki.saes[sae].cert), str(self.pki.saes[sae].key))
        c = httpx.Client(verify=ctx, timeout=10)
        self._clients.append(c)
        return c

    def close(self):
        for c in self._clients:
            c.close()


@pytest.fixture(scope="module")
def kme(tmp_path_factory):
    pki = make_test_pki(tmp_path_factory.mktemp("pki"))
    store = LinkKeyStore(256, 200)
    flags = {"down": None}
    server = KmeServer(store, pki, DEFAULT_DIRECTORY, lambda: flags["down"])
    server.start()
    k = Kme(pki, store, server, flags)
    yield k
    k.close()
    server.stop()


@pytest.fixture
def filled(kme):
    material = os.urandom(200 * 32)
    kme.store.deposit(material, material)
    return kme


def enc(k: Kme, body=None, sae="SAE_A", slave="SAE_B", method="POST", params=None):
    c = k.client(sae)
    url = f"{k.a}/api/v1/keys/{slave}/enc_keys"
    if method == "POST":
        return c.post(url, json=body if body is not None else {})
    return c.get(url, params=params)


def dec(k: Kme, ids, sae="SAE_B", master="SAE_A", method="POST"):
    c = k.client(sae)
    url = f"{k.b}/api/v1/keys/{master}/dec_keys"
    if method == "POST":
        return c.post(url, json={"key_IDs": [{"key_ID": i} for i in ids]})
    return c.get(url, params=[("key_ID", i) for i in ids])


def test_status_fields_and_types(filled):
    r = filled.client("SAE_A").get(f"{filled.a}/api/v1/keys/SAE_B/status")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    for name, typ in STATUS_FIELDS.items():
        assert isinstance(body[name], typ) and not isinstance(body[name], bool), name
    assert (body["source_KME_ID"], body["target_KME_ID"]) == ("KME_A", "KME_B")
    assert (body["master_SAE_ID"], body["slave_SAE_ID"]) == ("SAE_A", "SAE_B")
    assert body["stored_key_count"] == filled.store.stored_key_count() <= body["max_key_count"]


def test_enc_then_dec_bit_identical_and_single_delivery(filled):
    r = enc(filled, {"number": 3, "size": 512})
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert len(keys) == 3
    for k in keys:
        uuid.UUID(k["key_ID"])
        assert len(base64.b64decode(k["key"], validate=True)) == 512 // 8
    ids = [k["key_ID"] for k in keys]
    r2 = dec(filled, ids)
    assert r2.status_code == 200
    assert [(k["key_ID"], k["key"]) for k in r2.json()["keys"]] == [(k["key_ID"], k["key"]) for k in keys]
    again = dec(filled, ids[:1])
    assert again.status_code == 400 and again.json()["message"] == MSG_KEYS_NOT_FOUND


def test_get_forms_match_post_forms(filled):
    r = enc(filled, method="GET", params={"number": 2, "size": 128})
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert [len(base64.b64decode(k["key"])) for k in keys] == [16, 16]
    r2 = dec(filled, [keys[0]["key_ID"]], method="GET")
    assert r2.status_code == 200 and r2.json()["keys"] == [keys[0]]
    default = enc(filled, method="GET")
    assert default.status_code == 200 and len(default.json()["keys"]) == 1
    assert len(base64.b64decode(default.json()["keys"][0]["key"])) == 256 // 8


def test_stored_key_count_falls_by_what_was_taken(filled):
    before = filled.store.stored_key_count()
    assert enc(filled, {"number": 2}).status_code == 200
    assert filled.store.stored_key_count() == before - 2


@pytest.mark.parametrize(("body", "message"), [
    ({"number": 1, "size": 100}, MSG_SIZE_NOT_MULTIPLE_OF_8),
    ({"number": 1, "extension_mandatory": [{"abc_route_type": "direct"}]}, MSG_EXTENSION_MANDATORY),
    ({"number": 129}, MSG_TOO_MANY_KEYS),
])
def test_enc_keys_bad_requests_use_the_spec_messages(filled, body, message):
    r = enc(filled, body)
    assert r.status_code == 400
    assert r.json()["message"] == message


@pytest.mark.parametrize("body", [{"number": "two"}, {"number": 0}, {"size": 8}, {"size": 8192},
                                  {"additional_slave_SAE_IDs": ["SAE_C"]}, [1, 2]])
def test_enc_keys_other_bad_requests_are_400_with_a_message(filled, body):
    r = enc(filled, body)
    assert r.status_code == 400 and isinstance(r.json()["message"], str) and r.json()["message"]


def test_dec_keys_unknown_and_malformed_ids_are_400(filled):
    r = dec(filled, [str(uuid.uuid4())])
    assert r.status_code == 400 and r.json()["message"] == MSG_KEYS_NOT_FOUND
    bare = filled.client("SAE_B").post(f"{filled.b}/api/v1/keys/SAE_A/dec_keys", json={"key_IDs": ["x"]})
    assert bare.status_code == 400


def test_third_sae_is_refused_with_401(filled):
    keys = enc(filled, {"number": 1}).json()["keys"]
    r = dec(filled, [keys[0]["key_ID"]], sae="SAE_C")
    assert r.status_code == 401
    r = filled.client("SAE_C").get(f"{filled.a}/api/v1/keys/SAE_B/status")
    assert r.status_code == 401
    # The slave asking the master's KME (the wrong end) is not served there either.
    assert filled.client("SAE_B").get(f"{filled.a}/api/v1/keys/SAE_A/status").status_code == 401
    # The rightful slave still gets its key afterwards: a refusal consumes nothing.
    assert dec(filled, [keys[0]["key_ID"]]).status_code == 200


def test_unavailable_kme_answers_503(filled):
    filled.flags["down"] = "maintenance"
    try:
        assert enc(filled, {"number": 1}).status_code == 503
        assert filled.client("SAE_A").get(f"{filled.a}/api/v1/keys/SAE_B/status").status_code == 503
    finally:
        filled.flags["down"] = None


def test_not_enough_keys_answers_503(kme):
    while kme.store.stored_key_count():
        kme.store.take(End.A, "SAE_A", "SAE_B", 1, kme.store.key_size_bits)
    r = enc(kme, {"number": 1})
    assert r.status_code == 503 and "not enough key material" in r.json()["message"]


def test_client_without_certificate_is_refused(kme):
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        kme.client(None).get(f"{kme.a}/api/v1/keys/SAE_B/status")


def test_client_certificate_from_another_ca_is_refused(kme, tmp_path):
    rogue = make_test_pki(tmp_path)
    ctx = ssl.create_default_context(cafile=str(kme.pki.ca_cert))
    ctx.load_cert_chain(str(rogue.saes["SAE_A"].cert), str(rogue.saes["SAE_A"].key))
    with httpx.Client(verify=ctx) as c, pytest.raises(
            (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        c.get(f"{kme.a}/api/v1/keys/SAE_B/status")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_below_1_2_is_refused(kme):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(kme.pki.ca_cert))
    ctx.load_cert_chain(str(kme.pki.saes["SAE_A"].cert), str(kme.pki.saes["SAE_A"].key))
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with httpx.Client(verify=ctx) as c, pytest.raises(httpx.ConnectError) as info:
        c.get(f"{kme.a}/api/v1/keys/SAE_B/status")
    # Refused by the server, not by our own OpenSSL declining to offer TLS 1.1.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(info.value)


def test_tls_1_2_is_accepted(filled):
    c = filled.client("SAE_A", maximum_version=ssl.TLSVersion.TLSv1_2)
    assert c.get(f"{filled.a}/api/v1/keys/SAE_B/status").status_code == 200


def test_openapi_document_lists_every_endpoint(kme):
    doc = kme.client("SAE_A").get(f"{kme.a}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/v1/keys/{slave_SAE_ID}/status", "/api/v1/keys/{slave_SAE_ID}/enc_keys",
                                 "/api/v1/keys/{master_SAE_ID}/dec_keys"}
    assert set(doc["paths"]["/api/v1/keys/{slave_SAE_ID}/enc_keys"]) == {"get", "post"}
    assert set(doc["components"]["schemas"]["Status"]["required"]) == set(STATUS_FIELDS)


def _crafted_client(kme: Kme, tmp_path, subject: x509.Name) -> httpx.Client:
    """A client certificate from the KME's own CA with any subject we like (what an insider could get)."""
    ca_key = serialization.load_pem_private_key((kme.pki.directory / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(kme.pki.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "crafted.pem", tmp_path / "crafted.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(cafile=str(kme.pki.ca_cert))
    ctx.load_cert_chain(str(cert_path), str(key_path))
    c = httpx.Client(verify=ctx, timeout=10)
    kme._clients.append(c)
    return c


def test_identity_comes_from_the_parsed_certificate_not_from_its_rendered_subject(filled, tmp_path):
    key = enc(filled, {"number": 1}).json()["keys"][0]
    # CN=SAE_C with an organisation name that reads ",CN=SAE_B" once rendered unescaped.
    crafted = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SAE_C"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x,CN=SAE_B")])
    r = _crafted_client(filled, tmp_path, crafted).post(
        f"{filled.b}/api/v1/keys/SAE_A/dec_keys", json={"key_IDs": [{"key_ID": key["key_ID"]}]})
    assert r.status_code == 401 and "SAE_C" in r.json()["message"]
    assert dec(filled, [key["key_ID"]]).json()["keys"] == [key]  # the real SAE_B still gets it


@pytest.mark.parametrize("subject", [
    [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "no common name")],
    [x509.NameAttribute(NameOID.COMMON_NAME, "SAE_B"), x509.NameAttribute(NameOID.COMMON_NAME, "SAE_A")],
    [x509.NameAttribute(NameOID.COMMON_NAME, "SAE_B"), x509.NameAttribute(NameOID.COMMON_NAME, "SAE_B")],
], ids=["no-cn", "two-cns", "repeated-cn"])
def test_certificate_without_exactly_one_identity_is_refused(filled, tmp_path, subject):
    r = _crafted_client(filled, tmp_path, x509.Name(subject)).get(f"{filled.b}/api/v1/keys/SAE_A/status")
    assert r.status_code == 401 and "exactly one" in r.json()["message"]


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("route", ["enc_keys", "dec_keys", "status"])
def test_methods_other_than_get_and_post_are_405_and_consume_nothing(filled, method, route):
    before = filled.store.stored_key_count()
    r = filled.client("SAE_A").request(method, f"{filled.a}/api/v1/keys/SAE_B/{route}?number=5")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    if method != "HEAD":
        assert r.headers["content-type"] == "application/json" and r.json()["message"]
    assert filled.store.stored_key_count() == before


def test_unknown_paths_are_json_404(kme):
    r = kme.client("SAE_A").get(f"{kme.a}/api/v2/nothing")
    assert r.status_code == 404 and r.json()["message"]


def _raw(k: Kme, url: str, content: bytes, content_type: str = "application/json", sae: str = "SAE_A"):
    return k.client(sae).post(url, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize(("route", "content", "content_type", "status"), [
    ("enc", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", 400),   # nested: was RecursionError 500
    ("dec", b"[" * 20000 + b"]" * 20000, "application/json", 400),
    ("enc", b'{"number":1,"extension_mandatory":1}', "application/json", 400),  # int: was TypeError 500
    ("enc", b'{"number":1,"extension_mandatory":true}', "application/json", 400),
    ("enc", b'{"number":1,"extension_mandatory":1.5}', "application/json", 400),
    ("dec", b'{"key_IDs":[{"key_ID":"\\udc80"}]}', "application/json", 400),   # lone surrogate
    ("enc", b'{"number":1}', "text/plain", 415),
    ("enc", '{"number":1}'.encode("utf-16"), "application/json; charset=utf-16", 415),
    ("enc", b"{" + b" " * (10 * 2**20) + b"}", "application/json", 413),     # 10 MB
    ("dec", json.dumps({"key_IDs": [{"key_ID": str(uuid.uuid4())} for _ in range(100_000)]}).encode(),
     "application/json", 413),
    ("dec", json.dumps({"key_IDs": [{"key_ID": "x" * 100_000}]}).encode(), "application/json", 413),
])
def test_malformed_requests_get_a_4xx_json_error_never_a_5xx(filled, route, content, content_type, status):
    url = (f"{filled.a}/api/v1/keys/SAE_B/enc_keys" if route == "enc"
           else f"{filled.b}/api/v1/keys/SAE_A/dec_keys")
    r = _raw(filled, url, content, content_type, "SAE_A" if route == "enc" else "SAE_B")
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert r.json()["message"]


@pytest.mark.parametrize("number", ["１", "+1", "1_0", "1.0", " 2"])
def test_lenient_query_numbers_are_refused(filled, number):
    before = filled.store.stored_key_count()
    r = enc(filled, method="GET", params={"number": number})
    assert r.status_code == 400 and filled.store.stored_key_count() == before


def test_unknown_key_ids_are_echoed_capped(filled):
    long_unknown = [str(uuid.uuid4()) for _ in range(100)]
    r = dec(filled, long_unknown)
    assert r.status_code == 400
    assert len(r.json()["details"][0]["key_IDs_not_found"]) == MAX_ECHOED
    r = dec(filled, ["y" * 2000])
    assert r.status_code == 400 and len(r.text) < 300  # a non-UUID is refused without being echoed


def test_status_says_simulated_keys_are_for_testing_only(filled):
    body = filled.client("SAE_A").get(f"{filled.a}/api/v1/keys/SAE_B/status").json()
    assert "never for protecting data" in body["status_extension"]["simulated_keys"]

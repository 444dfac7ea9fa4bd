"""The PQC adapters: availability, every algorithm's round trip, and agreement between libraries.

Round-trip tests take `kem_case` / `signer_case` (tests/conftest.py): they run against every
registered adapter with the capability and every algorithm it lists, so a new adapter is tested
by registering it. liboqs' cases skip with the adapter's own reason where liboqs is not
installed; set OQS_INSTALL_PATH to a liboqs install to run them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import registry
from harness.adapters import KEM_ALGORITHMS, SIGNATURE_ALGORITHMS, Kem, Kind, NotApplicable, Signer
from vendors import liboqs, pqclean
from vendors.liboqs import find_liboqs
from vendors.openssl import OpenSSLAdapter
from vendors.pqclean import PQCleanAdapter
from vendors.reference import ReferenceAdapter

REPO = Path(__file__).resolve().parent.parent
PQC_ADAPTERS = ("openssl", "pqclean", "liboqs", "reference")


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def _available(name: str):
    info = registry.vendor_info(name)
    if not info.available:
        pytest.skip(reason=f"{name} unavailable: {info.reason}")
    return registry.adapter_class(name)()


# --- registration and availability ---------------------------------------------------------

@pytest.mark.parametrize("name", PQC_ADAPTERS)
def test_registered_through_the_entry_point_group(name):
    cls = registry.adapter_class(name)
    assert cls.name == name and cls.kind is Kind.PQC
    assert {str(c) for c in cls.capabilities} == {"kem", "signature"}


@pytest.mark.parametrize("cls", [OpenSSLAdapter, PQCleanAdapter, ReferenceAdapter])
def test_bundled_libraries_are_available_with_a_version(cls):
    assert cls.availability().available, cls.availability().reason
    assert cls.version()


def test_openssl_version_names_both_cryptography_and_openssl():
    assert OpenSSLAdapter.version().startswith("cryptography 50.")
    assert "OpenSSL 4." in OpenSSLAdapter.version()


@pytest.mark.parametrize("version", ["1.0.0", "1.2.3", "0.3.4"])
def test_pqclean_rejects_pqcrypto_outside_the_04_series(monkeypatch, version):
    monkeypatch.setattr(pqclean, "_pqcrypto_version", lambda: version)
    avail = PQCleanAdapter.availability()
    assert not avail.available
    assert f"pqcrypto {version} is not the PQClean series" in avail.reason
    assert "pqcrypto>=0.4,<0.5" in avail.reason


@pytest.mark.parametrize("name", PQC_ADAPTERS)
def test_listed_algorithms_are_canonical_and_others_not_applicable(name):
    adapter = _available(name)
    kems, signatures = adapter.kem_algorithms(), adapter.signature_algorithms()
    assert kems and set(kems) <= set(KEM_ALGORITHMS)
    assert signatures and set(signatures) <= set(SIGNATURE_ALGORITHMS)
    for algorithm in set(KEM_ALGORITHMS) - set(kems):
        with pytest.raises(NotApplicable, match=re.escape(f"{name} has no {algorithm} (it offers: ")):
            adapter.kem(algorithm)
    for algorithm in set(SIGNATURE_ALGORITHMS) - set(signatures):
        with pytest.raises(NotApplicable, match=re.escape(f"{name} has no {algorithm} (it offers: ")):
            adapter.signer(algorithm)
    with pytest.raises(NotApplicable, match="not a canonical algorithm name"):
        adapter.kem("Kyber768")


def test_each_library_offers_what_it_really_has():
    assert "ML-KEM-512" not in OpenSSLAdapter().kem_algorithms()  # not exposed by cryptography 50
    assert set(OpenSSLAdapter().signature_algorithms()) >= {"ML-DSA-44", "ML-DSA-65", "ML-DSA-87",
                                                            "Ed25519", "ECDSA-P256", "RSA-2048"}
    signatures = PQCleanAdapter().signature_algorithms()
    assert "SPHINCS+-SHA2-128s-simple" in signatures
    assert not any(a.startswith("SLH-DSA") for a in signatures)  # PQClean's SPHINCS+ is not FIPS 205
    assert set(ReferenceAdapter().kem_algorithms()) == {"ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"}


# --- liboqs: found without importing oqs, or a reason saying where it looked ---------------

def _isolate_lookup(monkeypatch):
    """Only $OQS_INSTALL_PATH and ~/_oqs count: the host's own liboqs must not decide the test."""
    monkeypatch.setattr(liboqs.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(liboqs, "_system_dirs", lambda environ: [])


def test_find_liboqs_reports_every_place_it_tried(tmp_path, monkeypatch):
    _isolate_lookup(monkeypatch)
    lookup = find_liboqs({"OQS_INSTALL_PATH": str(tmp_path / "oqs")}, home=tmp_path)
    assert lookup.path is None
    assert lookup.tried == (str(tmp_path / "oqs/lib/liboqs.so"), str(tmp_path / "oqs/lib64/liboqs.so"),
                            "the dynamic loader (ctypes.util.find_library('oqs'))",
                            str(tmp_path / "_oqs/lib/liboqs.so"), str(tmp_path / "_oqs/lib64/liboqs.so"))


def test_find_liboqs_prefers_oqs_install_path_and_falls_back_to_home(tmp_path, monkeypatch):
    _isolate_lookup(monkeypatch)
    (tmp_path / "opt/lib64").mkdir(parents=True)
    (tmp_path / "opt/lib64/liboqs.so").write_bytes(b"")
    (tmp_path / "_oqs/lib").mkdir(parents=True)
    (tmp_path / "_oqs/lib/liboqs.so").write_bytes(b"")
    found = find_liboqs({"OQS_INSTALL_PATH": str(tmp_path / "opt")}, home=tmp_path)
    assert found.path == str(tmp_path / "opt/lib64/liboqs.so")
    assert found.install_prefix == str(tmp_path / "opt")
    fallback = find_liboqs({}, home=tmp_path)
    assert fallback.path == str(tmp_path / "_oqs/lib/liboqs.so")
    assert fallback.tried[0] == "$OQS_INSTALL_PATH (unset)"


_PROBE = """
import json, sys
import vendors.liboqs as m
after_import = "oqs" in sys.modules
avail = m.LibOQSAdapter.availability()
print(json.dumps({"after_import": after_import, "after_availability": "oqs" in sys.modules,
                  "found": m.find_liboqs().path, "available": avail.available, "reason": avail.reason}))
"""


def _probe(tmp_path: Path, install_path: Path) -> dict:
    env = {**os.environ, "OQS_INSTALL_PATH": str(install_path), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_absent_liboqs_is_a_reason_and_oqs_is_never_imported(tmp_path):
    result = _probe(tmp_path, tmp_path / "nowhere")
    assert result["after_import"] is False  # importing the adapter module never imports oqs
    if result["found"] is not None:
        pytest.skip(reason=f"this host has its own liboqs at {result['found']}")
    assert result == {**result, "available": False, "after_availability": False}
    reason = result["reason"]
    assert str(tmp_path / "nowhere/lib/liboqs.so") in reason
    assert str(tmp_path / "_oqs/lib/liboqs.so") in reason
    assert "OQS_INSTALL_PATH" in reason and "conda-forge" in reason and "cmake" in reason


def test_a_broken_liboqs_file_is_reported_without_starting_a_build(tmp_path):
    (tmp_path / "bad/lib").mkdir(parents=True)
    (tmp_path / "bad/lib/liboqs.so").write_bytes(b"not a shared library")
    result = _probe(tmp_path, tmp_path / "bad")
    assert result["found"] == str(tmp_path / "bad/lib/liboqs.so")
    assert result["available"] is False and result["after_availability"] is False
    assert "does not load" in result["reason"]


def test_liboqs_version_names_the_loaded_library():
    adapter = _available("liboqs")
    assert adapter.version().startswith("liboqs 0.")
    assert "liboqs.so" in adapter.version() and "liboqs-python" in adapter.version()


# --- every adapter, every algorithm: round trips --------------------------------------------

def test_kem_round_trip(kem_case):
    _, kem = kem_case
    assert isinstance(kem, Kem)
    public_key, secret_key = kem.keygen()
    ciphertext, shared = kem.encaps(public_key)
    assert kem.decaps(secret_key, ciphertext) == shared
    assert len(shared) == 32  # all of ML-KEM, X25519 and P-256 ECDH give 32-byte secrets
    again_ct, again = kem.encaps(kem.load_public_key(kem.public_key_bytes(public_key)))
    assert again != shared and again_ct != ciphertext  # encapsulation is randomised
    assert kem.decaps(secret_key, again_ct) == again
    exported = kem.secret_key_bytes(secret_key)
    # the adapter names what it exports: a seed is 64 bytes (FIPS 203 d ‖ z), anything else is longer
    assert kem.secret_key_encoding and (len(exported) == 64) == (kem.secret_key_encoding == "seed")


def test_a_tampered_ciphertext_never_yields_the_secret(kem_case):
    """ML-KEM answers with an unrelated secret (implicit rejection); DH KEMs may refuse the point."""
    _, kem = kem_case
    public_key, secret_key = kem.keygen()
    ciphertext, shared = kem.encaps(public_key)
    try:
        assert kem.decaps(secret_key, _flip(ciphertext, 5)) != shared
    except ValueError:
        assert not kem.algorithm.startswith("ML-KEM"), "ML-KEM must not reject, it must answer at random"


def test_signature_round_trip(signer_case):
    _, signer = signer_case
    assert isinstance(signer, Signer)
    public_key, secret_key = signer.keygen()
    message = b"qsbench conformance message"
    signature = signer.sign(secret_key, message)
    loaded = signer.load_public_key(signer.public_key_bytes(public_key))
    assert signer.verify(loaded, message, signature) is True
    assert signer.verify(public_key, _flip(message), signature) is False
    assert signer.verify(public_key, message, _flip(signature, len(signature) // 2)) is False
    assert signer.verify(public_key, message, signature[:-1]) is False
    assert signer.verify(public_key, message, signature + b"\x00") is False
    exported = signer.secret_key_bytes(secret_key)
    assert signer.secret_key_encoding and exported
    if signer.algorithm.startswith("ML-DSA"):  # a FIPS 204 seed ξ is 32 bytes, the full sk thousands
        assert (len(exported) == 32) == (signer.secret_key_encoding == "seed")


# --- agreement between libraries -----------------------------------------------------------

def _pairs(algorithm: str, kind: str) -> list:
    names = [n for n in PQC_ADAPTERS if registry.vendor_info(n).available]
    pairs = []
    for a in names:
        for b in names:
            if a == b:
                continue
            offered = [registry.adapter_class(n)() for n in (a, b)]
            lists = [o.kem_algorithms() if kind == "kem" else o.signature_algorithms() for o in offered]
            if all(algorithm in lst for lst in lists):
                pairs.append(pytest.param(a, b, id=f"{a}->{b}"))
    return pairs


@pytest.mark.parametrize(("sender", "receiver"), _pairs("ML-KEM-768", "kem"))
def test_mlkem768_interoperates(sender, receiver):
    """The receiver's public key crosses as bytes; the sender encapsulates, the receiver decapsulates."""
    tx = registry.adapter_class(sender)().kem("ML-KEM-768")
    rx = registry.adapter_class(receiver)().kem("ML-KEM-768")
    public_key, secret_key = rx.keygen()
    ciphertext, shared = tx.encaps(tx.load_public_key(rx.public_key_bytes(public_key)))
    assert rx.decaps(secret_key, ciphertext) == shared


@pytest.mark.parametrize(("signer_name", "verifier_name"), _pairs("ML-DSA-44", "signature"))
def test_mldsa44_interoperates(signer_name, verifier_name):
    tx = registry.adapter_class(signer_name)().signer("ML-DSA-44")
    rx = registry.adapter_class(verifier_name)().signer("ML-DSA-44")
    public_key, secret_key = tx.keygen()
    signature = tx.sign(secret_key, b"interop")
    loaded = rx.load_public_key(tx.public_key_bytes(public_key))
    assert rx.verify(loaded, b"interop", signature) is True
    assert rx.verify(loaded, b"interoq", signature) is False


def test_pqclean_sphincs_is_not_slh_dsa():
    """Why PQClean's SPHINCS+ keeps its own name: FIPS 205 SLH-DSA rejects its signatures."""
    liboqs = _available("liboqs")
    if "SLH-DSA-SHA2-128f" not in liboqs.signature_algorithms():
        pytest.skip("this liboqs build has no SLH-DSA (a minimal build: ML-KEM and ML-DSA only)")
    oqs_signer = liboqs.signer("SLH-DSA-SHA2-128f")
    sphincs = PQCleanAdapter().signer("SPHINCS+-SHA2-128f-simple")
    public_key, secret_key = sphincs.keygen()
    signature = sphincs.sign(secret_key, b"m")
    assert sphincs.verify(public_key, b"m", signature)
    assert len(signature) == 17088  # same sizes as SLH-DSA-SHA2-128f, different algorithm
    assert oqs_signer.verify(public_key, b"m", signature) is False
    # Not just FIPS 205's pure-mode prefix (0x00, empty context): the internals differ too.
    assert oqs_signer.verify(public_key, b"m", sphincs.sign(secret_key, b"\x00\x00m")) is False


# What each library lets an adapter derandomise (README, "Derandomised operations"): the suite
# compares bytes with the reference wherever these are offered, and records n/a otherwise.
_DERANDOMISED = {
    "reference": ({"KemFromSeed", "KemDerandomised", "KemExpandedSecretKey"},
                  {"SignerFromSeed", "SignerDeterministic", "SignerExpandedSecretKey"}),
    "pqclean": ({"KemFromSeed", "KemDerandomised", "KemExpandedSecretKey"}, set()),
    "liboqs": ({"KemFromSeed", "KemDerandomised"}, set()),
    "openssl": ({"KemFromSeed"}, {"SignerFromSeed"}),
}


@pytest.mark.parametrize("vendor", sorted(_DERANDOMISED))
def test_derandomised_capabilities_are_what_each_library_allows(vendor):
    from harness import adapters as protocols

    adapter = _available(vendor)
    kem, signer = adapter.kem("ML-KEM-768"), adapter.signer("ML-DSA-44")
    kem_names = {"KemFromSeed", "KemDerandomised", "KemExpandedSecretKey"}
    signer_names = {"SignerFromSeed", "SignerDeterministic", "SignerExpandedSecretKey"}
    offered = ({n for n in kem_names if isinstance(kem, getattr(protocols, n))},
               {n for n in signer_names if isinstance(signer, getattr(protocols, n))})
    assert offered == _DERANDOMISED[vendor]


def test_liboqs_refuses_a_short_ciphertext_itself_naming_the_binding():
    kem = _available("liboqs").kem("ML-KEM-768")
    _, secret_key = kem.keygen()
    with pytest.raises(ValueError, match="checked by the adapter: liboqs-python would zero-pad"):
        kem.decaps(secret_key, bytes(1087))

"""Every registered adapter with the tls13 capability, through the TlsStack protocol (no vendor names
in the assertions: a third-party stack registered the same way gets the same checks)."""

from __future__ import annotations

import socket

import pytest
from cryptography import x509

from harness.adapters import Capability, NotApplicable
from harness.adapters_tls import TLS_CERT_TYPES, TLS_GROUPS, TlsHandshakeFailed
from harness.certs import make_chain
from harness.netem.wire import FlightRecorder
from harness.registry import adapter_class, adapter_names

TLS_STACKS = [n for n in adapter_names() if Capability.TLS13 in adapter_class(n).capabilities
              and adapter_class(n).availability().available]


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    return {cert_type: make_chain(cert_type, directory) for cert_type in TLS_CERT_TYPES}


def _handshake(stack, chain, client_groups, server_groups, trust_root=None):
    listener = socket.create_server(("127.0.0.1", 0))
    server = stack.tls_server(listener, chain, server_groups)
    try:
        client = stack.tls_client(trust_root or chain.root_pem, client_groups)
        with socket.create_connection(listener.getsockname(), timeout=10) as sock:
            wire = FlightRecorder(sock)
            result = client.handshake(wire, chain.server_name)
        return result, wire.summary()
    finally:
        server.close()
        listener.close()


def test_chains_are_root_signed_leaves_for_localhost(chains):
    for cert_type, chain in chains.items():
        leaf, root = x509.load_pem_x509_certificates(chain.chain_pem.read_bytes())
        leaf.verify_directly_issued_by(root)
        assert root == x509.load_pem_x509_certificate(chain.root_pem.read_bytes()), cert_type
        assert chain.key_pem.stat().st_mode & 0o077 == 0, "private key must not be group/world readable"


def test_at_least_two_independent_stacks_are_registered():
    assert len(TLS_STACKS) >= 2, f"tls13 adapters found: {TLS_STACKS}"


@pytest.mark.parametrize("name", TLS_STACKS)
def test_every_group_and_cert_type_negotiates_what_was_asked(name, chains):
    stack = adapter_class(name)()
    assert set(stack.tls_groups()) <= set(TLS_GROUPS)
    for group in stack.tls_groups():
        result, wire = _handshake(stack, chains["ECDSA-P256"], [group], [group])
        assert result.group == group
        assert result.signature_scheme == "ecdsa_secp256r1_sha256"
        assert wire.server_flights == 1 and not wire.hello_retry
    expected_scheme = {"Ed25519": "ed25519", "RSA-2048": "rsa_pss_rsae_", "ML-DSA-44": "mldsa44",
                       "ML-DSA-65": "mldsa65", "ML-DSA-87": "mldsa87", "ECDSA-P256": "ecdsa_secp256r1"}
    for cert_type in stack.tls_cert_types():
        result, _ = _handshake(stack, chains[cert_type], ["X25519"], ["X25519"])
        assert result.signature_scheme.startswith(expected_scheme[cert_type])


@pytest.mark.parametrize("name", TLS_STACKS)
def test_unsupported_hybrid_share_costs_a_hello_retry(name, chains):
    stack = adapter_class(name)()
    if "X25519MLKEM768" not in stack.tls_groups():
        pytest.skip(reason=f"{name} has no X25519MLKEM768 here")
    result, wire = _handshake(stack, chains["ECDSA-P256"], ["X25519MLKEM768", "X25519"], ["X25519"])
    assert result.group == "X25519"
    assert wire.hello_retry and wire.server_flights == 2
    # The retried ClientHello carries only an X25519 share: much smaller than the first.
    _, direct = _handshake(stack, chains["ECDSA-P256"], ["X25519MLKEM768"], ["X25519MLKEM768"])
    assert wire.client_hello_bytes == pytest.approx(direct.client_hello_bytes, abs=8)
    assert not direct.hello_retry


@pytest.mark.parametrize("name", TLS_STACKS)
def test_wrong_trust_anchor_fails_cleanly(name, chains, tmp_path):
    stack = adapter_class(name)()
    other = make_chain("ECDSA-P256", tmp_path)
    with pytest.raises(TlsHandshakeFailed):
        _handshake(stack, chains["ECDSA-P256"], ["X25519"], ["X25519"], trust_root=other.root_pem)


@pytest.mark.parametrize("name", TLS_STACKS)
def test_unknown_group_is_not_applicable(name, chains):
    stack = adapter_class(name)()
    with pytest.raises(NotApplicable):
        stack.tls_client(chains["ECDSA-P256"].root_pem, ["FFDHE-1"])

"""The operations behind the `openssl` adapter, on the `cryptography` package's key objects.

Imported only once the adapter is asked for an algorithm, so listing vendors never loads
OpenSSL. Key handles are `cryptography`'s own key objects: a timed operation is one call
into the library plus, at most, a tuple swap.

Secret-key encodings are the library's own: ML-KEM keys are the 64-byte seed (d, z) and
ML-DSA keys the 32-byte seed ξ that `private_bytes_raw()` exports (FIPS 203/204 allow keeping
the seed instead of the expanded key); X25519, Ed25519 and the P-256 keys their 32-byte scalar;
RSA its DER RSAPrivateKey (PKCS #1).
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, x25519

_RAW = (ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
_P256 = ec.SECP256R1()
_POINT = (ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)


class MLKEM:
    """keygen returns the public-key object too, so its time includes deriving it (`public_key()`,
    about 16 of ~80 us for ML-KEM-768 on the development host): a usable key pair costs both."""

    secret_key_encoding = "seed"  # FIPS 203 d ‖ z, 64 bytes; PQClean's expanded dk is 1632–3168

    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any) -> None:
        self.algorithm = algorithm
        self._generate = private_cls.generate
        self._from_seed = private_cls.from_seed_bytes
        self._load = public_cls.from_public_bytes

    def keygen(self) -> tuple[Any, Any]:
        sk = self._generate()
        return sk.public_key(), sk

    def keygen_from_seed(self, seed: bytes) -> tuple[Any, Any]:
        sk = self._from_seed(seed)  # FIPS 203 d ‖ z
        return sk.public_key(), sk

    def encaps(self, public_key: Any) -> tuple[bytes, bytes]:
        shared_secret, ciphertext = public_key.encapsulate()  # cryptography's order is (ss, ct)
        return ciphertext, shared_secret

    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        return secret_key.decapsulate(ciphertext)

    def public_key_bytes(self, public_key: Any) -> bytes:
        return public_key.public_bytes_raw()

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return secret_key.private_bytes_raw()

    def load_public_key(self, data: bytes) -> Any:
        return self._load(data)


class X25519DH:
    """Ephemeral-static X25519 as a KEM: the ciphertext is the ephemeral public key and the
    shared secret the raw DH output (no KDF), which is what a TLS key share costs."""

    algorithm = "X25519"
    secret_key_encoding = "raw"

    def keygen(self) -> tuple[Any, Any]:
        sk = x25519.X25519PrivateKey.generate()
        return sk.public_key(), sk

    def encaps(self, public_key: Any) -> tuple[bytes, bytes]:
        eph = x25519.X25519PrivateKey.generate()
        return eph.public_key().public_bytes_raw(), eph.exchange(public_key)

    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        return secret_key.exchange(x25519.X25519PublicKey.from_public_bytes(ciphertext))

    def public_key_bytes(self, public_key: Any) -> bytes:
        return public_key.public_bytes_raw()

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return secret_key.private_bytes(*_RAW)

    def load_public_key(self, data: bytes) -> Any:
        return x25519.X25519PublicKey.from_public_bytes(data)


class _P256Keys:
    """P-256 keys as the uncompressed point (65 bytes) and the 32-byte big-endian scalar."""

    secret_key_encoding = "raw"

    def public_key_bytes(self, public_key: Any) -> bytes:
        return public_key.public_bytes(*_POINT)

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return secret_key.private_numbers().private_value.to_bytes(32, "big")

    def load_public_key(self, data: bytes) -> Any:
        return ec.EllipticCurvePublicKey.from_encoded_point(_P256, data)


class P256DH(_P256Keys):
    """Ephemeral-static ECDH on P-256 as a KEM; ciphertext = uncompressed ephemeral point (65 bytes),
    shared secret = the x-coordinate (no KDF)."""

    algorithm = "ECDH-P256"

    def keygen(self) -> tuple[Any, Any]:
        sk = ec.generate_private_key(_P256)
        return sk.public_key(), sk

    def encaps(self, public_key: Any) -> tuple[bytes, bytes]:
        eph = ec.generate_private_key(_P256)
        return eph.public_key().public_bytes(*_POINT), eph.exchange(ec.ECDH(), public_key)

    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(_P256, ciphertext)
        return secret_key.exchange(ec.ECDH(), peer)


class RawKeySigner:
    """A signature whose keys are raw bytes in `cryptography` (Ed25519, ML-DSA): sign(message) and
    verify(signature, message) on the key objects."""

    secret_key_encoding = "raw"

    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any) -> None:
        self.algorithm = algorithm
        self._generate = private_cls.generate
        self._load = public_cls.from_public_bytes

    def keygen(self) -> tuple[Any, Any]:
        sk = self._generate()
        return sk.public_key(), sk

    def sign(self, secret_key: Any, message: bytes) -> bytes:
        return secret_key.sign(message)

    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def public_key_bytes(self, public_key: Any) -> bytes:
        return public_key.public_bytes_raw()

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return secret_key.private_bytes_raw()

    def load_public_key(self, data: bytes) -> Any:
        return self._load(data)


class MLDSA(RawKeySigner):
    """Pure ML-DSA (FIPS 204), empty context, hedged (randomised) signing as OpenSSL does by default."""

    secret_key_encoding = "seed"  # FIPS 204 ξ, 32 bytes; the expanded sk is 2560–4896

    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any) -> None:
        super().__init__(algorithm, private_cls, public_cls)
        self._from_seed = private_cls.from_seed_bytes

    def keygen_from_seed(self, seed: bytes) -> tuple[Any, Any]:
        sk = self._from_seed(seed)  # FIPS 204 ξ
        return sk.public_key(), sk


class ECDSAP256(_P256Keys):
    """ECDSA on P-256 with SHA-256, DER-encoded signatures (70–72 bytes), randomised nonces."""

    algorithm = "ECDSA-P256"
    _ALG = ec.ECDSA(hashes.SHA256())

    def keygen(self) -> tuple[Any, Any]:
        sk = ec.generate_private_key(_P256)
        return sk.public_key(), sk

    def sign(self, secret_key: Any, message: bytes) -> bytes:
        return secret_key.sign(message, self._ALG)

    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, message, self._ALG)
        except InvalidSignature:
            return False
        return True


class RSAPSS2048:
    """RSA-2048 (e = 65537) with RSASSA-PSS, SHA-256, MGF1-SHA-256 and a 32-byte salt: the
    TLS 1.3 `rsa_pss_rsae_sha256` scheme, the RSA signature a PQC migration replaces."""

    algorithm = "RSA-2048"
    secret_key_encoding = "PKCS#1 DER"
    _PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    _HASH = hashes.SHA256()

    def keygen(self) -> tuple[Any, Any]:
        sk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return sk.public_key(), sk

    def sign(self, secret_key: Any, message: bytes) -> bytes:
        return secret_key.sign(message, self._PSS, self._HASH)

    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, message, self._PSS, self._HASH)
        except InvalidSignature:
            return False
        return True

    def public_key_bytes(self, public_key: Any) -> bytes:
        return public_key.public_bytes(ser.Encoding.DER, ser.PublicFormat.PKCS1)

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return secret_key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL,
                                        ser.NoEncryption())

    def load_public_key(self, data: bytes) -> Any:
        key = ser.load_der_public_key(data)
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
            raise ValueError("not a DER-encoded RSA-2048 public key")
        return key


def make_kems(with_mlkem: bool) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    if with_mlkem:
        ops["ML-KEM-768"] = MLKEM("ML-KEM-768", mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey)
        ops["ML-KEM-1024"] = MLKEM("ML-KEM-1024", mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey)
    ops["X25519"] = X25519DH()
    ops["ECDH-P256"] = P256DH()
    return ops


def make_signers(with_mldsa: bool) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    if with_mldsa:
        for level in (44, 65, 87):
            name = f"ML-DSA-{level}"
            ops[name] = MLDSA(name, getattr(mldsa, f"MLDSA{level}PrivateKey"),
                              getattr(mldsa, f"MLDSA{level}PublicKey"))
    ops["Ed25519"] = RawKeySigner("Ed25519", ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)
    ops["ECDSA-P256"] = ECDSAP256()
    ops["RSA-2048"] = RSAPSS2048()
    return ops

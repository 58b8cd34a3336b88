"""Python implementations of the core's platform traits, as a desktop shell would write them.

* `SoftwareDeviceKeyStore`: P-256 keys from the `cryptography` package, kept in memory by alias.
  `create_key` returns the SEC1 uncompressed point; `sign` returns a DER ECDSA signature. Both
  are `async def` (the trait's blocking methods are async foreign methods). Like a phone, it
  counts a **prompt** for every signature with a key created with `require_user_authentication`
  and records every `SignRequest`; `fail_signing(alias)` simulates a busy key store.
* `SoftwareDataKeyWrapper`: AES-256-GCM under a random in-memory key; blob = nonce || ciphertext.
  `locked = True` simulates a locked device (`KeyWrapError.TemporarilyUnavailable`).

Neither is hardware-backed: they exist to exercise the FFI surface, not to protect keys.
"""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from citizen_core import (
    DataKeyWrapper,
    DeviceKeyStore,
    DeviceSignature,
    KeyOptions,
    DeviceKeyStoreError,
    KeyWrapError,
    SignatureFormat,
    SignRequest,
)


def _sec1_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class SoftwareDeviceKeyStore(DeviceKeyStore):
    """In-memory P-256 key store. Thread-safe: the core calls it from its worker threads."""

    def __init__(self) -> None:
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._user_auth: set[str] = set()
        self._failing: set[str] = set()
        self._invalidated: set[str] = set()
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (method, alias), for assertions
        self.requests: list[tuple[str, SignRequest]] = []  # (alias, request) of every sign
        self.prompts = 0  # signatures with a user-authentication key: a prompt on a phone

    def _key(self, alias: str) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            key = self._keys.get(alias)
        if key is None:
            raise DeviceKeyStoreError.KeyNotFound(reason=f"no key under alias {alias!r}")
        return key

    async def create_key(self, alias: str, options: KeyOptions) -> bytes:
        self.calls.append(("create_key", alias))
        key = ec.generate_private_key(ec.SECP256R1())
        with self._lock:
            self._keys[alias] = key
            if options.require_user_authentication:
                self._user_auth.add(alias)
            else:
                self._user_auth.discard(alias)
        point = _sec1_point(key.public_key())
        assert len(point) == 65 and point[0] == 0x04
        return point

    async def sign(self, alias: str, message: bytes, request: SignRequest) -> DeviceSignature:
        self.calls.append(("sign", alias))
        key = self._key(alias)
        with self._lock:
            self.requests.append((alias, request))
            if alias in self._user_auth:
                self.prompts += 1
            failing = alias in self._failing
            invalidated = alias in self._invalidated
        if invalidated:
            raise DeviceKeyStoreError.KeyInvalidated(reason="simulated: biometrics changed")
        if failing:
            raise DeviceKeyStoreError.Unavailable(reason="simulated busy key store")
        der = key.sign(bytes(message), ec.ECDSA(hashes.SHA256()))
        return DeviceSignature(bytes=der, format=SignatureFormat.DER)

    def public_key(self, alias: str) -> bytes:
        self.calls.append(("public_key", alias))
        return _sec1_point(self._key(alias).public_key())

    def delete_key(self, alias: str) -> None:
        self.calls.append(("delete_key", alias))
        with self._lock:
            self._keys.pop(alias, None)

    def is_hardware_backed(self, alias: str) -> bool:
        self._key(alias)
        return False

    def attestation_chain(self, alias: str) -> list[bytes]:
        self._key(alias)
        return []

    # Test helpers (not part of the trait).
    def fail_signing(self, alias: str, fail: bool = True) -> None:
        with self._lock:
            (self._failing.add if fail else self._failing.discard)(alias)

    def invalidate(self, alias: str) -> None:
        """Simulate the platform invalidating a key (Android KeyPermanentlyInvalidatedException,
        iOS biometry change): every later signature with it fails with KeyInvalidated."""
        with self._lock:
            self._invalidated.add(alias)

    def aliases(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)

    def verify(self, alias: str, message: bytes, der: bytes) -> bool:
        try:
            self._key(alias).public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False


class SoftwareDataKeyWrapper(DataKeyWrapper):
    """AES-256-GCM wrapping under per-alias random keys held in memory.

    Keep the same instance to re-open a data directory: a new instance has new keys, which is
    what a restored backup on another phone looks like.
    """

    NONCE_LEN = 12

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.locked = False  # simulate a locked device: unwrap fails "temporarily unavailable"
        self.deleted: list[str] = []  # every delete_key call, in order

    def _aead(self, key_alias: str, create: bool) -> AESGCM:
        with self._lock:
            key = self._keys.get(key_alias)
            if key is None:
                if not create:
                    raise KeyWrapError.KeyUnavailable(reason=f"no wrapping key {key_alias!r}")
                key = AESGCM.generate_key(bit_length=256)
                self._keys[key_alias] = key
        return AESGCM(key)

    def wrap(self, key_alias: str, data_key: bytes) -> bytes:
        aead = self._aead(key_alias, create=True)
        nonce = os.urandom(self.NONCE_LEN)
        return nonce + aead.encrypt(nonce, bytes(data_key), key_alias.encode())

    def unwrap(self, key_alias: str, wrapped: bytes) -> bytes:
        if self.locked:
            raise KeyWrapError.TemporarilyUnavailable(reason="simulated locked device")
        aead = self._aead(key_alias, create=False)
        wrapped = bytes(wrapped)
        if len(wrapped) < self.NONCE_LEN + 16:
            raise KeyWrapError.UnwrapFailed(reason="blob too short")
        try:
            return aead.decrypt(wrapped[: self.NONCE_LEN], wrapped[self.NONCE_LEN :], key_alias.encode())
        except InvalidTag:
            raise KeyWrapError.UnwrapFailed(reason="authentication tag mismatch") from None

    def delete_key(self, key_alias: str) -> None:
        """Forget the wrapping key (what `erase_local_data` asks for); a missing key is fine."""
        with self._lock:
            self._keys.pop(key_alias, None)
            self.deleted.append(key_alias)

    def aliases(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)

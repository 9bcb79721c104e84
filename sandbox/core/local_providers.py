"""The non-KMS providers of EncryptionConfiguration: aescbc, aesgcm and secretbox (spec 3.1).

Each stores `k8s:enc:<provider>:v1:<keyName>:` + data, with a key taken from the config file:

* aescbc: `iv(16) || AES-CBC(PKCS#7 padded plaintext)`; no authentication and no AAD, so a
  value copied to another key still decrypts (upstream's own test relies on it).
* aesgcm: `nonce(12) || AES-GCM(plaintext) || tag(16)`, random nonce, AAD = the etcd key.
* secretbox: `nonce(24) || NaCl secretbox (XSalsa20-Poly1305)`, 32-byte key, no AAD. The Python
  `cryptography` package has no XSalsa20, so this one uses PyNaCl, imported lazily.

Error texts are upstream's (aes/cbc.go, secretbox/secretbox.go).
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sandbox.core import aead
from sandbox.core.errors import DecodeError, DecryptError, SandboxError, ValidationError

AESCBC = "aescbc"
AESGCM = "aesgcm"
SECRETBOX = "secretbox"
LOCAL_PROVIDERS = (AESCBC, AESGCM, SECRETBOX)
AES_BLOCK = 16
SECRETBOX_NONCE_SIZE = 24
SECRETBOX_OVERHEAD = 16
SECRETBOX_KEY_SIZE = 32

ERR_NOT_BLOCK_MULTIPLE = "the stored data is not a multiple of the block size"
ERR_PKCS7_DATA = "invalid PKCS7 data (empty or not padded)"
ERR_PKCS7_PADDING = "invalid padding on input"
ERR_SECRETBOX_OPEN = "output array was not large enough for encryption"  # upstream's (odd) wording


def provider_prefix(provider: str, key_name: str) -> bytes:
    """`k8s:enc:<provider>:v1:<keyName>:`"""
    if provider not in LOCAL_PROVIDERS:
        raise ValidationError(
            f"unknown local provider {provider!r}; expected one of {', '.join(LOCAL_PROVIDERS)}"
        )
    return f"k8s:enc:{provider}:v1:{key_name}:".encode()


def split_local_value(value: bytes) -> tuple[str, str, bytes]:
    """(provider, key name, data) of a local-provider value."""
    for provider in LOCAL_PROVIDERS:
        head = f"k8s:enc:{provider}:v1:".encode()
        if value.startswith(head):
            rest = value[len(head) :]
            end = rest.find(b":")
            if end < 0:
                raise DecodeError(f"{provider} prefix has no ':' after the key name")
            try:
                return provider, rest[:end].decode(), rest[end + 1 :]
            except UnicodeDecodeError:
                raise DecodeError(f"{provider} key name is not valid UTF-8") from None
    raise DecodeError("value does not start with an aescbc, aesgcm or secretbox prefix")


def _check_aes_key(key: bytes) -> None:
    if len(key) not in aead.AES_KEY_SIZES:
        raise ValidationError(f"crypto/aes: invalid key size {len(key)}")


# --- aescbc ---------------------------------------------------------------------------------


def aescbc_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """CBC ignores `aad`: the parameter exists so all providers share one signature."""
    _check_aes_key(key)
    iv = os.urandom(AES_BLOCK)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(padded) + enc.finalize()


def aescbc_decrypt(key: bytes, data: bytes, aad: bytes = b"") -> bytes:
    _check_aes_key(key)
    if len(data) < AES_BLOCK:
        raise DecryptError(aead.ERR_SHORT)
    iv, body = data[:AES_BLOCK], data[AES_BLOCK:]
    if len(body) % AES_BLOCK:
        raise DecryptError(ERR_NOT_BLOCK_MULTIPLE)
    if not body:
        raise DecryptError(ERR_PKCS7_DATA)
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    result = dec.update(body) + dec.finalize()
    pad = result[-1]
    if pad == 0 or pad > len(result):
        raise DecryptError(ERR_PKCS7_DATA)
    if result[-pad:] != bytes([pad]) * pad:
        raise DecryptError(ERR_PKCS7_PADDING)
    return result[:-pad]


# --- aesgcm ---------------------------------------------------------------------------------


def aesgcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return aead.random_nonce_gcm_encrypt(key, plaintext, aad)


def aesgcm_decrypt(key: bytes, data: bytes, aad: bytes) -> bytes:
    return aead.gcm_decrypt(key, data, aad)


# --- secretbox ------------------------------------------------------------------------------


def _secretbox(key: bytes) -> Any:
    if len(key) != SECRETBOX_KEY_SIZE:
        raise ValidationError(f"secretbox key must be {SECRETBOX_KEY_SIZE} bytes, got {len(key)}")
    try:
        import nacl.secret
    except ImportError:  # pragma: no cover - depends on the environment
        raise SandboxError("secretbox needs PyNaCl (pip install pynacl)") from None
    return nacl.secret.SecretBox(key)


def secretbox_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """XSalsa20-Poly1305 with a random 24-byte nonce; secretbox takes no AAD."""
    box = _secretbox(key)
    nonce = os.urandom(SECRETBOX_NONCE_SIZE)
    sealed: bytes = bytes(box.encrypt(plaintext, nonce))
    return sealed  # PyNaCl returns nonce || box, the same layout upstream stores


def secretbox_decrypt(key: bytes, data: bytes, aad: bytes = b"") -> bytes:
    box = _secretbox(key)
    if len(data) < SECRETBOX_NONCE_SIZE + SECRETBOX_OVERHEAD:
        raise DecryptError(aead.ERR_SHORT)
    import nacl.exceptions

    try:
        opened: bytes = bytes(box.decrypt(data[SECRETBOX_NONCE_SIZE:], data[:SECRETBOX_NONCE_SIZE]))
    except nacl.exceptions.CryptoError:
        raise DecryptError(ERR_SECRETBOX_OPEN) from None
    return opened


ENCRYPT = {AESCBC: aescbc_encrypt, AESGCM: aesgcm_encrypt, SECRETBOX: secretbox_encrypt}
DECRYPT = {AESCBC: aescbc_decrypt, AESGCM: aesgcm_decrypt, SECRETBOX: secretbox_decrypt}


def encrypt_value(provider: str, key_name: str, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """The complete etcd value for a local provider."""
    return provider_prefix(provider, key_name) + ENCRYPT[provider](key, plaintext, aad)


def decrypt_value(key: bytes, value: bytes, aad: bytes) -> bytes:
    provider, _, data = split_local_value(value)
    return DECRYPT[provider](key, data, aad)

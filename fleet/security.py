"""Secrets at rest: API tokens are stored as SHA-256 hashes, AppKeys encrypted with a key derived from
KUMPEL_SECRET_KEY (HKDF -> Fernet), so a copied database leaks neither."""

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_PREFIX = "kmp_"


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of entropy: a fast hash is enough, no salt/KDF needed.
    return hashlib.sha256(token.encode()).hexdigest()


def _fernet(secret_key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kumpel-appkey", info=b"appkey-at-rest").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def encrypt_app_key(secret_key: str, app_key_hex: str) -> str:
    return _fernet(secret_key).encrypt(app_key_hex.encode()).decode()


def decrypt_app_key(secret_key: str, blob: str) -> str:
    try:
        return _fernet(secret_key).decrypt(blob.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("AppKey undecryptable: KUMPEL_SECRET_KEY is not the one used to store it") from exc


def new_app_key() -> str:
    return secrets.token_hex(16).upper()


def new_eui() -> str:
    return secrets.token_hex(8).upper()

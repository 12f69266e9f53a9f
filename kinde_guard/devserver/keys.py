"""The dev issuer's signing key, kept as a PEM file (mode 0600) so restarts keep the same ``kid``."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import ConfigurationError
from ..testing import generate_rsa_key

__all__ = ["KEY_FILE", "default_keys_dir", "load_or_create_key"]

KEY_FILE = "signing-key.pem"


def default_keys_dir() -> Path:
    """``$XDG_CACHE_HOME/kinde-guard/dev-issuer`` (default ``~/.cache/kinde-guard/dev-issuer``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "kinde-guard" / "dev-issuer"


def load_or_create_key(directory: str | Path) -> rsa.RSAPrivateKey:
    """The RSA-2048 key in ``directory``/signing-key.pem, created (0600, directory 0700) if absent."""
    directory = Path(directory)
    path = directory / KEY_FILE
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ConfigurationError(f"{path} does not hold an RSA private key; delete it to get a new one.")
            return key
        key = generate_rsa_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # O_EXCL with mode 0600: the private key is never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key
    except OSError as exc:
        raise ConfigurationError(f"cannot keep the dev issuer key in {directory}: {exc.strerror}.") from None
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a PEM private key ({exc}); delete it to get a new one.") from None

"""Secrets (TLS key passphrases, later DICOMweb passwords) in the OS keyring.

Never written anywhere else: when no keyring is usable (no desktop session: keyring's
fail backend raises ``NoKeyringError``; a locked keyring), :class:`SecretStoreUnavailable`
says so and the caller asks for the secret for this session only (:class:`SessionSecrets`).
``keyrings.alt``'s plain-file backends are refused (docs/notes.md: base64 in a file).
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Protocol, cast

from pacsadmin.core.errors import SecretStoreUnavailable

SERVICE = "pacsadmin"

_INSECURE_BACKENDS = ("keyrings.alt.file", "keyring.backends.fail", "keyring.backends.null")


class SecretBackend(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def describe(self) -> str: ...


class KeyringBackend:
    """The real OS keyring through the ``keyring`` package."""

    def _kr(self) -> ModuleType:
        import keyring

        backend = keyring.get_keyring()
        mod = type(backend).__module__
        if any(mod.startswith(m) for m in _INSECURE_BACKENDS):
            raise SecretStoreUnavailable(
                "No secure OS keyring is available (backend "
                f"{type(backend).__name__}); the secret was not stored. "
                "It will be asked for once per session instead."
            )
        return keyring

    def get(self, key: str) -> str | None:
        kr = self._kr()
        try:
            return cast("str | None", kr.get_password(SERVICE, key))
        except kr.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"The OS keyring could not be read: {exc}") from exc

    def set(self, key: str, value: str) -> None:
        kr = self._kr()
        try:
            kr.set_password(SERVICE, key, value)
        except kr.errors.KeyringError as exc:
            raise SecretStoreUnavailable(
                f"The OS keyring refused the secret ({exc}); it was not stored anywhere."
            ) from exc

    def delete(self, key: str) -> None:
        kr = self._kr()
        try:
            kr.delete_password(SERVICE, key)
        except kr.errors.PasswordDeleteError:
            pass
        except kr.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"The OS keyring could not be changed: {exc}") from exc

    def describe(self) -> str:
        try:
            import keyring

            return type(keyring.get_keyring()).__name__
        except Exception as exc:  # pragma: no cover - keyring import problems
            return f"unavailable ({exc})"


class SessionSecrets:
    """Secrets kept in memory for this run only (the fallback, and the tests' backend)."""

    def __init__(self) -> None:
        self._d: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._d.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._d[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self._d.pop(key, None)

    def describe(self) -> str:
        return "this session only (memory)"


class SecretStore:
    """Keyring first; on failure, the session store, and the failure is reported."""

    def __init__(self, backend: SecretBackend | None = None) -> None:
        self.backend: SecretBackend = backend or KeyringBackend()
        self.session = SessionSecrets()

    def get(self, key: str) -> str | None:
        v = self.session.get(key)
        if v is not None:
            return v
        try:
            return self.backend.get(key)
        except SecretStoreUnavailable:
            return None

    def set(self, key: str, value: str, *, session_only: bool = False) -> str | None:
        """Store a secret.  Return ``None`` when the keyring took it, else the reason it
        is kept for this session only."""
        if session_only:
            self.session.set(key, value)
            return "kept for this session only, as asked"
        try:
            self.backend.set(key, value)
            self.session.delete(key)
            return None
        except SecretStoreUnavailable as exc:
            self.session.set(key, value)
            return str(exc)

    def delete(self, key: str) -> None:
        self.session.delete(key)
        try:
            self.backend.delete(key)
        except SecretStoreUnavailable:
            pass


SCP_TLS_PASSPHRASE_KEY = "scp/tls-key-passphrase"  # the local SCP's TLS key


def tls_passphrase_key(node_name: str) -> str:
    return f"node/{node_name}/tls-key-passphrase"

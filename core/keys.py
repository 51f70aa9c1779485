"""Key rings for pseudonymisation and field encryption.

Keys never live in the database. Each ring is read from an environment variable
(`kid:base64key,kid:base64key`, newest first) or from a directory of `<kid>.key` files.
Pseudonym keys are per period (`2026-11`): destroying a period's file makes every pseudonym made
with it unlinkable. Field-encryption keys carry free-form ids; the newest is used for new writes
and older ones stay readable until `manage.py keys_rotate_fields` re-encrypts.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

KEY_BYTES = 32


class MissingKeyError(ImproperlyConfigured):
    """A key that the operation needs is not in the ring (destroyed or never provisioned)."""


def period_of(moment: datetime) -> str:
    """The pseudonym key period for a moment: one key per calendar month (UTC)."""
    if moment.tzinfo is not UTC:  # timezone.now() is already in UTC: no conversion
        moment = timezone.localtime(moment, UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def _decode(text: str) -> bytes:
    key = base64.urlsafe_b64decode(text.strip().encode())
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(f"keys must be {KEY_BYTES} bytes, base64-encoded")
    return key


@functools.lru_cache(maxsize=16)
def _parse_env_ring(text: str) -> dict[str, bytes]:
    ring: dict[str, bytes] = {}
    for item in text.split(","):
        key_id, _, encoded = item.strip().partition(":")
        ring[key_id] = _decode(encoded)
    return ring


# A directory ring is re-checked at most this often per process (a destroy in this process is
# seen at once; in another, within this time). Production rings come from the environment.
DIR_RING_RECHECK_SECONDS = 1.0
_dir_rings: dict[str, tuple[float, dict[str, bytes]]] = {}


def _read_dir_ring(directory: str) -> dict[str, bytes]:
    checked = _dir_rings.get(directory)
    now = time.monotonic()
    if checked is not None and checked[0] > now:
        return checked[1]
    try:
        # Adding or deleting a key file changes the directory's mtime: one stat per check
        # instead of reading every file (a plain string path: pathlib's parsing cost more than
        # the stat).
        version = os.stat(directory).st_mtime_ns
    except FileNotFoundError:
        return {}
    ring = _read_dir_ring_version(directory, version)
    _dir_rings[directory] = (now + DIR_RING_RECHECK_SECONDS, ring)
    return ring


def dir_ring_cache_clear() -> None:
    _dir_rings.clear()


@functools.lru_cache(maxsize=32)
def _read_dir_ring_version(directory: str, version: int) -> dict[str, bytes]:
    files = sorted(Path(directory).glob("*.key"), reverse=True)
    return {path.stem: _decode(path.read_text()) for path in files}


def create_key_file(directory: Path, key_id: str) -> bytes:
    """Write a new random key; an existing file wins (several processes may race here)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{key_id}.key"
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(path.read_text())
    with os.fdopen(fd, "w") as handle:
        handle.write(encoded)
    dir_ring_cache_clear()
    return _decode(encoded)


class KeyRing:
    def __init__(self, *, name: str, env_value: str | None) -> None:
        self.name = name
        self.env_value = env_value

    @property
    def directory(self) -> Path:
        return Path(settings.KEY_DIR) / self.name

    def keys(self) -> dict[str, bytes]:
        return dict(self._ring())

    def _ring(self) -> dict[str, bytes]:
        # Shared and cached: read it, never change it.
        if self.env_value:
            return _parse_env_ring(self.env_value)
        return _read_dir_ring(os.path.join(settings.KEY_DIR, self.name))

    def get(self, key_id: str, *, create: bool = False) -> bytes:
        key = self._ring().get(key_id)
        if key is not None:
            return key
        if create and settings.KEYS_AUTO_CREATE and not self.env_value:
            return create_key_file(self.directory, key_id)
        raise MissingKeyError(f"no {self.name} key {key_id!r} (destroyed or never provisioned)")

    def destroy(self, key_id: str) -> bool:
        path = self.directory / f"{key_id}.key"
        if not path.exists():
            return False
        path.unlink()
        dir_ring_cache_clear()
        return True


@cache
def pseudonym_ring() -> KeyRing:
    return KeyRing(name="pseudonym", env_value=settings.PSEUDONYM_KEYS)


@cache
def field_ring() -> KeyRing:
    return KeyRing(name="field", env_value=settings.FIELD_ENCRYPTION_KEYS)


@cache
def blind_index_ring() -> KeyRing:
    return KeyRing(name="blind_index", env_value=settings.BLIND_INDEX_KEYS)


def primary_field_key_id() -> str:
    """The newest field key id (ids sort by age: use dated ids such as `2026-11-a`)."""
    ids = sorted(field_ring().keys(), reverse=True)
    if ids:
        return ids[0]
    if settings.KEYS_AUTO_CREATE:
        field_ring().get("k0001", create=True)
        return "k0001"
    raise MissingKeyError("no field-encryption key provisioned")

"""Content digests: the valid form, what a file or member name says, and hashing bytes."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..errors import SourceError

DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
# What a user may type for an image or blob: a digest or image ID, whole or a prefix of at
# least 12 hex digits, with or without `sha256:`.
DIGEST_PREFIX = re.compile(r"^(?:sha256:)?[0-9a-f]{12,64}$")
# `blobs/sha256/<hex>` (OCI layouts, Docker ≥ 25 saves) and `<hex>`, `<hex>.json`, `<hex>.tar`,
# `<hex>.tar.gz`, `sha256:<hex>` (legacy saves, blob folders), at the end of a path.
BLOB_MEMBER = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]{64}|[0-9a-f]{128})$")
_NAMED = re.compile(
    r"(?:^|/)(?:(sha256|sha512)[:/])?([0-9a-f]{64}|[0-9a-f]{128})(?:\.json|\.tar|\.tar\.gz|\.tgz)?$"
)


def check_digest(digest: str) -> tuple[str, str]:
    """`sha256:<hex>` → (algorithm, hex); anything else (`../x`, upper case) is refused."""
    match = DIGEST.match(digest or "")
    if not match:
        raise SourceError(f"not a valid digest: {digest!r}")
    return match.group(1), match.group(2)


def valid_digest(digest: Any) -> bool:
    return isinstance(digest, str) and DIGEST.match(digest) is not None


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def named_digest(name: str) -> str | None:
    """The digest a file or member is named by (`<hex>.json`, `sha256:<hex>`, `blobs/sha256/<hex>`,
    `<hex>.tar`, `<hex>.tar.gz`), None for `<v1 id>/layer.tar`, `config.json` and the like."""
    if name.endswith("/layer.tar"):
        return None  # a v1 layer id, not a content digest
    match = _NAMED.search(name)
    if not match:
        return None
    algorithm = match.group(1) or ("sha512" if len(match.group(2)) == 128 else "sha256")
    return f"{algorithm}:{match.group(2)}"


def is_digest_prefix(text: str) -> bool:
    """`3f2a9c1b7d4e`, `sha256:3f2a…`: a digest or ID as a user types it (12 hex digits or more)."""
    return DIGEST_PREFIX.match(text) is not None

"""Opening a source from what the user typed: `TRANSPORT:ARGUMENT[:SELECTOR]` or a bare path.

Transports (containers/image names where one exists):
  json:PATH               a config, manifest or index file, or a folder of blobs named by digest
  oci:PATH[:TAG]          an OCI image layout directory
Later issues add docker-archive:, oci-archive:, registry-dir:, docker-root:, docker-daemon:,
repo-info:. Each lives in its own module and is imported only when used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import Source, SourceError

# transport → (module, class, takes a path)
TRANSPORTS: dict[str, tuple[str, str]] = {
    "json": ("jsonfiles", "JsonFilesSource"),
    "oci": ("ocilayout", "OciLayoutSource"),
}


def parse_spec(spec: str) -> tuple[str | None, str]:
    """('oci', 'dir:tag') for `oci:dir:tag`; (None, spec) when no known transport is named."""
    transport, sep, rest = spec.partition(":")
    if sep and transport in TRANSPORTS:
        return transport, rest
    return None, spec


def split_path_selector(argument: str) -> tuple[Path, str | None]:
    """`DIR:tag` → (DIR, 'tag'): the longest prefix that exists is the path (paths may hold ':')."""
    if Path(argument).exists() or ":" not in argument:
        return Path(argument), None
    cut = len(argument)
    while (cut := argument.rfind(":", 0, cut)) > 0:
        if Path(argument[:cut]).exists():
            return Path(argument[:cut]), argument[cut + 1 :] or None
    return Path(argument), None


def detect(path: Path) -> str:
    """The transport for a bare path, from what is on disk."""
    if path.is_dir():
        if (path / "oci-layout").is_file() or (path / "index.json").is_file():
            return "oci"
        return "json"
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
        if head.startswith(b"{"):
            return "json"
        raise SourceError(f"{path}: not a format this version reads (JSON or an OCI layout)")
    raise SourceError(f"{path} does not exist")


def open_source(spec: str, *, config: str | None = None) -> tuple[Source, str | None]:
    """The source named by `spec`, and the selector (tag, name:tag, digest) it carried."""
    transport, argument = parse_spec(spec)
    path, selector = split_path_selector(argument)
    if transport is None:
        transport = detect(path)
    module_name, class_name = TRANSPORTS[transport]
    module = importlib.import_module(f"{__name__}.{module_name}")
    source_class = getattr(module, class_name)
    if transport == "json":
        return source_class(path, Path(config) if config else None), selector
    if config:
        raise SourceError("--config only goes with a manifest file (json: source)")
    return source_class(path), selector


__all__ = ["Source", "SourceError", "open_source", "TRANSPORTS", "detect", "parse_spec"]

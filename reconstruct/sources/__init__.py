"""Every kind of input, behind one contract (base.py), opened from what the user typed:
`TRANSPORT:ARGUMENT[:SELECTOR]` (containers/image's names where one exists) or a bare path
whose kind is told from what is on disk (`detect`).

The registry below maps each transport to its module, imported only when used; nothing outside
this package switches on transport names: commands read `Source.capabilities` and walk
`Source.blobs()` (view.py). Shared here: partial.py (index → manifest → config JSON into the
model), ocilayout.py's layout helpers (an OCI layout in a folder or inside an archive).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..blob.contained import InputPath
from ..blob.files import read_head
from .base import Source, SourceError, split_path_selector

if TYPE_CHECKING:
    from ..blob.tar import MemberObserver

# transport → (module, class)
TRANSPORTS: dict[str, tuple[str, str]] = {
    "json": ("jsonfiles", "JsonFilesSource"),
    "oci": ("ocilayout", "OciLayoutSource"),
    "registry-dir": ("registrydir", "RegistryDirSource"),
    "docker-root": ("dockerroot", "DockerRootSource"),
    "repo-info": ("repoinfo", "RepoInfoSource"),
    "repo-info-dir": ("repoinfodir", "RepoInfoDirSource"),
    "tag-details": ("tagdetails", "TagDetailsSource"),
    "dockerfile": ("dockerfile", "DockerfileSource"),
    "docker-archive": ("dockerarchive", "DockerArchiveSource"),
    "oci-archive": ("ociarchive", "OciArchiveSource"),
    "docker-daemon": ("engine", "EngineSource"),
    "containerd": ("containerd", "ContainerdSource"),
    "containers-storage": ("containersstorage", "ContainersStorageSource"),
}


# Transports that read one archive file (what a folder of saved images holds, beside layouts).
ARCHIVE_TRANSPORTS = frozenset({"docker-archive", "oci-archive"})


def parse_spec(spec: str) -> tuple[str | None, str]:
    """('oci', 'dir:tag') for `oci:dir:tag`; (None, spec) when no known transport is named."""
    transport, sep, rest = spec.partition(":")
    if sep and transport in TRANSPORTS:
        return transport, rest
    return None, spec


def detect(path: Path) -> str:
    """The transport for a bare path, from what is on disk."""
    if str(path) == "-":
        return "docker-archive"  # stdin: a docker save (or OCI layout) tar, maybe compressed
    if path.is_dir():
        folder = InputPath.of(path)
        if (folder / "oci-layout").exists() or (folder / "index.json").exists():
            return "oci"
        repos = folder / "repos"
        if repos.is_dir() and any((repos / name / "remote").is_dir() for name in repos.names()):
            return "repo-info-dir"
        from .dockerroot import looks_like_docker_root
        from .registrydir import looks_like_registry

        if looks_like_registry(path):
            return "registry-dir"
        if looks_like_docker_root(path):
            return "docker-root"
        from .containerd import is_containerd_root

        if is_containerd_root(path):
            return "containerd"
        from .containersstorage import is_graph_root

        if is_graph_root(folder):
            return "containers-storage"
        return "json"
    if path.is_file():
        start = read_head(path, 512)
        head = start.lstrip()
        if head.startswith(b"{"):
            return "json"
        if head.startswith(b"## `"):
            return "repo-info"
        from .tagdetails import is_tag_details

        if is_tag_details(start):
            return "tag-details"
        if _looks_like_dockerfile(path, start):
            return "dockerfile"
        from ..blob.tar import sniff

        if sniff(start):  # a tar, or a compressed file: docker-archive reads OCI layouts too
            return "docker-archive"
        raise SourceError(
            f"{path}: not an image source reconstruct knows (JSON metadata, a tar archive, "
            "an OCI layout, a repo-info document or a Dockerfile)"
        )
    raise SourceError(f"{path} does not exist")


def _looks_like_dockerfile(path: Path, start: bytes) -> bool:
    if "dockerfile" in path.name.lower() or "containerfile" in path.name.lower():
        return True
    for line in start.decode(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.split()[0].upper() in ("FROM", "ARG")
    return False


def source_class_of(transport: str) -> type[Source]:
    module_name, class_name = TRANSPORTS[transport]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)


def open_source(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    exact: bool | None = None,
    observe: MemberObserver | None = None,
    on_read: Callable[[int], None] | None = None,
) -> tuple[Source, str | None]:
    """The source named by `spec`, and the selector (tag, name:tag, digest) it carried.

    `host` and `exact` go with an engine (`docker-daemon:`), which a bare SOURCE that is no
    existing path but reads as an image reference (`python:3`, an image ID) also names.
    `observe` and `on_read` go to an archive that can be read only once (see TarIndex.open);
    other sources ignore them.
    """
    transport, argument = parse_spec(spec)
    if transport is None and _names_an_image(spec):
        transport, argument = "docker-daemon", spec
    if transport == "docker-daemon":
        if config:
            raise SourceError("--config only goes with a manifest file (json: source)")
        from .engine import EngineSource

        # The whole argument is the reference: `python:3` must not be split like `DIR:TAG`.
        bare = not spec.startswith("docker-daemon:")
        return EngineSource(host, exact=exact, bare=bare), argument or None
    if host or exact is not None:
        raise SourceError("--host and --exact only go with an engine (docker-daemon:REF)")
    if transport is None:
        path, selector = split_path_selector(argument)
        transport = detect(path)
        source_class = source_class_of(transport)
    else:
        source_class = source_class_of(transport)
        path, selector = source_class.split_argument(argument)
    if transport == "json":
        return source_class(path, Path(config) if config else None), selector
    if config:
        raise SourceError("--config only goes with a manifest file (json: source)")
    if source_class.capabilities.archive:
        return source_class(path, observe, on_read), selector
    return source_class(path), selector


def folder_members(spec: str) -> list[str]:
    """For a bare folder that is no store itself but holds archives and OCI layouts: one spec
    per such member, transport named (`docker-archive:DIR/a.tar`); else none."""
    transport, argument = parse_spec(spec)
    if transport is not None:
        return []
    path, selector = split_path_selector(argument)
    if selector is not None or not path.is_dir() or detect(path) != "json":
        return []
    members = []
    for child in InputPath.of(path).iterdir():
        if child.name.startswith(".") or child.kind() not in ("file", "dir"):
            continue  # a FIFO, a device or a symlink out of the folder is no member
        try:
            kind = detect(path / child.name)
        except (SourceError, OSError):
            continue  # neither an archive nor a layout
        if kind == "oci" or kind in ARCHIVE_TRANSPORTS:
            members.append(f"{kind}:{path / child.name}")
    return members


def _local(spec: str) -> tuple[str | None, Path] | None:
    """(the transport named, or None for a bare path; the path it reads) for a spec that reads
    something here; None for an engine (named, or a bare reference that is no path here)."""
    transport, argument = parse_spec(spec)
    if transport == "docker-daemon" or (transport is None and _names_an_image(spec)):
        return None
    if transport is None:
        return None, split_path_selector(argument)[0]
    return transport, source_class_of(transport).split_argument(argument)[0]


def source_class_for(spec: str) -> type[Source] | None:
    """The kind of source `spec` names, told without opening it; None for an engine, or for a
    bare path that is not there."""
    local = _local(spec)
    if local is None:
        return None
    transport, path = local
    if transport is None:
        try:
            transport = detect(path)
        except (SourceError, OSError):
            return None
    return source_class_of(transport)


def input_path(spec: str) -> Path | None:
    """The file or folder `spec` reads (`-`: standard input); None when it names none (an
    engine, or a bare reference that is no path here)."""
    local = _local(spec)
    if local is None:
        return None
    transport, path = local
    if transport is None and str(path) != "-" and not path.exists():
        return None
    return path


def _names_an_image(spec: str) -> bool:
    """A bare `python:3` or image ID with no file of that name (nor of its `DIR:` part) here."""
    if spec == "-" or Path(spec).exists() or split_path_selector(spec)[0].exists():
        return False
    from ..refs import looks_like_reference

    return looks_like_reference(spec)


__all__ = [
    "TRANSPORTS",
    "Source",
    "SourceError",
    "detect",
    "folder_members",
    "input_path",
    "open_source",
    "parse_spec",
    "source_class_for",
    "split_path_selector",
]

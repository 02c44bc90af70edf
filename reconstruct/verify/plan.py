"""How `verify` walks each kind of source: which blobs to hash, and what each must match.

Metadata blobs (indexes, manifests, configs) are small and checked as they are read. Layer
checks are planned here and judged once the layers are measured (verify.py): by worker processes
from files and plain archives, or, for an archive that can only be read once (compressed, or a
pipe), during the single pass that also indexes it (`tarindex.stream_index`).

The walk reads raw JSON rather than the model: what is verified is exactly what the source
holds, descriptors and all, independently of how `show` interprets it. The walk through a blob
store and the check builders are in verifywalk.py; this module picks what to walk per source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..blob.files import read_file
from ..blob.tar import TarIndex, sniff, stream_index
from ..model import FOREIGN_MEDIA_TYPES, Reference
from ..sources import detect, open_source, parse_spec
from ..sources.base import Source, SourceError
from ..sources.partial import kind_of
from . import Check, Expected, Group, Progress, Verdict, VerifyReport
from .digest import Digester, Measured
from .walk import (
    LayerBytes,
    PendingLayer,
    Plan,
    StoreWalker,
    consistency_checks,
    diff_ids_of,
    fail,
    history_check,
    json_object,
    member_key,
    metadata_check,
    named_digest,
    platform_label_of,
    valid_digest,
)

ARCHIVES = ("docker-archive", "oci-archive")
# Sources whose layers may all be absent by design: a metadata-only copy (the bundled sample).
METADATA_ONLY_ALLOWED = ("oci", "json", "registry-dir")
NOT_CHECKABLE_BECAUSE = {
    "repo-info": "a repo-info document records no blobs: nothing to hash",
    "repo-info-dir": "a repo-info document records no blobs: nothing to hash",
    "dockerfile": "a Dockerfile is not an image: nothing to hash",
    "docker-daemon": (
        "an engine's API serves no blobs: save the image (docker save) and verify the archive"
    ),
}


def plan_source(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Open `spec` and plan its verification (streamed archives are hashed here, in one pass)."""
    transport, path, selector = _where(spec)
    if config and transport not in (None, "json"):
        raise SourceError("--config only goes with a manifest file (json: source)")
    if transport in ARCHIVES and path is not None and _one_pass_only(path):
        source, measured = _stream(transport, path, progress)
        plan = Plan(VerifyReport(spec, transport, streamed=True), measured=measured)
        layers = LayerBytes(plan, source.tar, streamed=True)  # type: ignore[attr-defined]
    else:
        source, selector = open_source(spec, config=config, host=host)
        plan = Plan(VerifyReport(spec, source.transport))
        layers = LayerBytes(plan, getattr(source, "tar", None), streamed=False)
    _plan(plan, source, selector, layers)
    return plan


def _where(spec: str) -> tuple[str | None, Path | None, str | None]:
    """The transport, path and selector `spec` names, as far as a look at the disk tells."""
    from ..sources import split_path_selector

    transport, argument = parse_spec(spec)
    if transport == "docker-daemon":
        return transport, None, None
    path, selector = split_path_selector(argument)
    if transport is None:
        if str(path) != "-" and not path.exists():
            return None, None, None  # an engine reference, or an error open_source words
        transport = detect(path)
    return transport, path, selector


def _one_pass_only(path: Path) -> bool:
    """Standard input, or a compressed file: its members can only be seen in one pass."""
    if str(path) == "-":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False  # open_source reports it
    return sniff(head) not in (None, "tar")


def _stream(transport: str, path: Path, progress: Progress | None) -> tuple[Source, dict]:
    hasher = MemberHasher()
    read = 0

    def on_read(count: int) -> None:
        nonlocal read
        read += count
        if progress is not None:
            progress.update(read)

    if progress is not None:
        total = path.stat().st_size if str(path) != "-" and path.is_file() else None
        progress.start(total, "archive")
    try:
        tar = stream_index(path, hasher.observe, on_read)
    finally:
        if progress is not None:
            progress.stop()
    hasher.close()
    if transport == "oci-archive":
        from ..sources.ociarchive import OciArchiveSource

        return OciArchiveSource(path, tar=tar), hasher.results
    from ..sources.dockerarchive import DockerArchiveSource

    return DockerArchiveSource(path, tar=tar), hasher.results


class MemberHasher:
    """Measures every archive member as the one pass hands it over (one member at a time)."""

    def __init__(self) -> None:
        self.results: dict[str, Measured] = {}
        self._name: str | None = None
        self._digester: Digester | None = None

    def observe(self, name: str, size: int) -> Callable[[memoryview], None]:
        self.close()
        algorithm = "sha512" if name.startswith("blobs/sha512/") else "sha256"
        self._name, self._digester = name, Digester(algorithm)
        return self._digester.update

    def close(self) -> None:
        if self._digester is not None and self._name is not None:
            self.results[member_key(self._name)] = self._digester.finish()
        self._digester = None


# --- choosing what to walk ---------------------------------------------------------------------


def _plan(plan: Plan, source: Source, selector: str | None, layers: LayerBytes) -> None:
    transport = source.transport
    if transport in NOT_CHECKABLE_BECAUSE:
        _plan_unhashable(plan, source, selector, NOT_CHECKABLE_BECAUSE[transport])
        return
    if transport == "docker-root":
        _plan_docker_root(plan, source, selector)
        return
    if transport == "json" and Path(source.path).is_file():  # type: ignore[attr-defined]
        _plan_json_file(plan, source, layers)
        return
    walker = StoreWalker(plan, source.store, layers)  # type: ignore[attr-defined]
    if transport == "docker-archive":
        _plan_docker_archive(plan, source, selector, walker)
    else:
        for label, descriptor in _roots(source, selector):
            group = Group(label, descriptor.get("digest"))
            plan.report.groups.append(group)
            walker.root(group, descriptor)
    walker.finish(transport in METADATA_ONLY_ALLOWED)


def _chosen(source: Source, selector: str | None) -> list[Reference]:
    return [source._choose(selector)] if selector else source.references()


def _roots(source: Source, selector: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(label, descriptor) per distinct top blob, every name of it in the label."""
    from ..sources.ocilayout import layout_references

    index = getattr(source, "index", None)
    wanted = _chosen(source, selector)
    found: dict[str, tuple[list[str], dict[str, Any]]] = {}
    if isinstance(index, dict) and source.transport in ("oci", "oci-archive"):
        digests = {ref.digest for ref in wanted}
        for ref, descriptor in layout_references(index):
            if ref.digest in digests:
                names, _ = found.setdefault(ref.digest or "", ([], descriptor))
                names.append(describe(ref))
    else:
        for ref in wanted:
            if ref.digest:
                names, _ = found.setdefault(ref.digest, ([], {"digest": ref.digest}))
                names.append(describe(ref))
    return [(", ".join(dict.fromkeys(names)), descriptor) for names, descriptor in found.values()]


def describe(ref: Reference) -> str:
    if ref.name or ref.tag:
        return f"{ref.name}:{ref.tag}" if ref.name and ref.tag else (ref.name or ref.tag or "")
    return ref.digest or "<unknown>"


# --- docker save archives ---------------------------------------------------------------------


def _plan_docker_archive(
    plan: Plan, source: Source, selector: str | None, walker: StoreWalker
) -> None:
    """Docker ≥ 25 saves: their OCI index; manifest.json entries it does not reach: legacy."""
    from ..sources.ocilayout import layout_references

    choices = source.choices()  # type: ignore[attr-defined]
    if selector:
        chosen = source._choose(selector)
        choices = [c for c in choices if c.reference is chosen]
    groups: dict[str, tuple[list[str], Any]] = {}
    for choice in choices:
        ref = choice.reference
        if choice.entry is None:
            descriptors = dict(
                (r.digest, d)
                for r, d in layout_references(source.index)  # type: ignore[attr-defined]
            )
            names, _ = groups.setdefault(ref.digest or "", ([], descriptors.get(ref.digest)))
        else:
            names, _ = groups.setdefault(f"entry:{choice.entry.config}", ([], choice.entry))
        names.append(describe(ref))
    for key, (names, what) in groups.items():
        label = ", ".join(dict.fromkeys(names))
        if key.startswith("entry:"):
            group = Group(label, None)
            plan.report.groups.append(group)
            _legacy_entry(plan, group, source, what, walker.layers)
        else:
            group = Group(label, key)
            plan.report.groups.append(group)
            walker.root(group, what or {"digest": key})


def _legacy_entry(plan: Plan, group: Group, source: Source, entry: Any, layers: LayerBytes) -> None:
    """A manifest.json entry: config member named by Image ID, layer members as listed."""
    tar: TarIndex = source.tar  # type: ignore[attr-defined]
    try:
        data = tar.read(entry.config)
    except SourceError as error:
        group.checks.append(Check("config", entry.config, Verdict.NOT_CHECKABLE, str(error)))
        return
    if data is None:
        group.checks.append(
            Check(
                "config",
                entry.config,
                Verdict.MISSING,
                "named in manifest.json, not in the archive",
            )
        )
        return
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    group.digest = actual
    named = named_digest(entry.config)
    if named is None:
        check = Check(
            "config",
            entry.config,
            Verdict.NOT_CHECKABLE,
            f"its name holds no Image ID to compare with; it hashes to {actual}",
        )
    elif named == actual:
        check = Check("config", entry.config, Verdict.OK, "hashes to its name (the Image ID)")
    else:
        check = Check(
            "config", entry.config, Verdict.MISMATCH, f"named for {named} but hashes to {actual}"
        )
    check.size = len(data)
    group.checks.append(check)
    config = json_object(data)
    if config is None:
        fail(check, "it is not a JSON object")
    diff_ids = diff_ids_of(config)
    for position, path in enumerate(entry.layers, 1):
        diff_id = diff_ids[position - 1] if position <= len(diff_ids) else None
        distributed = entry.layer_sources.get(diff_id) if diff_id else None
        distributed = distributed if isinstance(distributed, dict) else {}
        urls = [u for u in distributed.get("urls") or [] if isinstance(u, str)]
        foreign = str(distributed.get("mediaType")) in FOREIGN_MEDIA_TYPES
        check = Check("layer", path, Verdict.MISSING, "", urls=urls, position=position)
        group.checks.append(check)
        member = tar.resolve(path)
        if member is None or member.kind != "file":
            check.normal = foreign
            check.reason = (
                "foreign layer, not in the archive (normal)"
                if foreign
                else "named in manifest.json, not in the archive"
            )
            continue
        key = layers.from_member(path, None, diff_id)
        if key is None:
            check.verdict = Verdict.NOT_CHECKABLE
            check.reason = "present, but its bytes cannot be read from this archive"
            continue
        expected = Expected(
            diff_id=diff_id,
            named=named_digest(path),
            distributed=distributed.get("digest")
            if isinstance(distributed.get("digest"), str)
            else None,
        )
        plan.pending.append(PendingLayer(check, key, expected))
    if config is not None:
        group.checks += consistency_checks(config, len(entry.layers), None)


# --- single JSON files ------------------------------------------------------------------------


def _plan_json_file(plan: Plan, source: Source, layers: LayerBytes) -> None:
    from ..blob.stores import read_small_file

    path = Path(source.path)  # type: ignore[attr-defined]
    data = read_small_file(path, "file")
    document = json_object(data)
    if document is None:
        raise SourceError(f"{path} is not a JSON object")
    kind = kind_of(document)
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    named = named_digest(path.name)
    check_kind = kind if kind in ("index", "manifest", "config") else "source"
    if named is not None:
        check = metadata_check(check_kind, named, None, data, None)
    else:
        check = Check(
            check_kind,
            str(path),
            Verdict.NOT_CHECKABLE,
            f"no descriptor names this file; it hashes to {actual}",
            size=len(data),
        )
    group = Group(str(path), actual, [check])
    plan.report.groups.append(group)
    walker = StoreWalker(plan, source.store, layers)  # type: ignore[attr-defined]
    if kind == "index":
        walker.index_entries(group, document, None, 1, frozenset({actual}))
    elif kind == "manifest":
        config_path = getattr(source, "config", None)
        override = read_small_file(Path(config_path), "config") if config_path else None
        walker.manifest(group, document, None, config_override=override)
        for config in group.checks:
            if config.kind == "config" and config.verdict is Verdict.MISSING:
                # A lone manifest file: its config need not be beside it (`--config FILE`).
                config.normal = True
                config.reason = "not beside this file (give it with --config FILE)"
    elif kind == "config":
        walker.image(group, document, None, None)
    else:
        fail(check, "it is JSON but not an image config, manifest or index")
    walker.finish(True)


# --- a Docker data root ------------------------------------------------------------------------


def _plan_docker_root(plan: Plan, source: Source, selector: str | None) -> None:
    from ..sources.dockerroot import chain_ids

    seen: dict[str, Group] = {}
    for ref in _chosen(source, selector):
        image_id = ref.digest or ""
        if image_id in seen:
            seen[image_id].label += f", {describe(ref)}"
            continue
        group = seen[image_id] = Group(describe(ref), image_id)
        plan.report.groups.append(group)
        found = [
            (driver, driver.config_path(image_id))
            for driver in source.drivers  # type: ignore[attr-defined]
            if valid_digest(image_id) and driver.config_path(image_id).is_file()
        ]
        if not found:
            group.checks.append(Check("config", image_id, Verdict.MISSING, "not in imagedb"))
            continue
        driver, path = found[0]
        data = read_file(path)
        if data is None:
            group.checks.append(
                Check("config", image_id, Verdict.NOT_CHECKABLE, "too large to read")
            )
            continue
        check = metadata_check("config", image_id, None, data, None)
        if check.verdict is Verdict.OK:
            check.reason = "hashes to its file name (the Image ID)"
        group.checks.append(check)
        config = json_object(data)
        diff_ids = diff_ids_of(config)
        for position, (diff_id, chain) in enumerate(
            zip(diff_ids, chain_ids(diff_ids), strict=True), 1
        ):
            layer = Check("layer", diff_id, Verdict.NOT_CHECKABLE, "", position=position)
            group.checks.append(layer)
            folder = driver.layer_dir(chain) if valid_digest(chain) else None
            recorded = read_file(folder / "diff") if folder is not None else None
            if folder is None or not folder.is_dir():
                layer.verdict, layer.reason = Verdict.MISSING, "not in layerdb"
            elif recorded is not None and recorded.decode(errors="replace").strip() != diff_id:
                layer.verdict = Verdict.MISMATCH
                layer.reason = f"layerdb records {recorded.decode(errors='replace').strip()}"
            else:
                layer.reason = (
                    "in layerdb; its files are unpacked, so the tar stream cannot be hashed"
                )
        if config is not None:
            group.checks += consistency_checks(config, None, None)


# --- sources with nothing to hash --------------------------------------------------------------


def _plan_unhashable(plan: Plan, source: Source, selector: str | None, reason: str) -> None:
    for ref in _chosen(source, selector):
        target = source.get(ref.selector or ref.digest)
        group = Group(describe(ref), ref.digest)
        group.checks.append(Check("source", "", Verdict.NOT_CHECKABLE, reason))
        for section in target.sections():
            image = section.image
            if image is None or not image.steps or not image.diff_ids:
                continue
            non_empty = sum(1 for step in image.steps if not step.empty_layer)
            group.checks.append(
                history_check(non_empty, len(image.diff_ids), platform_label_of(section.platform))
            )
        plan.report.groups.append(group)

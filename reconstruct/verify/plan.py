"""How `verify` walks a source: which blobs to hash, and what each must match.

Metadata blobs (indexes, manifests, configs) are small and checked as they are read. Layer
checks are planned here and judged once the layers are measured (verify/__init__.py): by worker
processes from files and plain archives, or, for an input that can only be read once
(compressed, or a pipe), during the single pass that also indexes it.

Everything goes through the Source contract: a source's capabilities say whether it holds
anything to hash, and its blob view (sources/view.py) says what, root by root; this module knows
the shapes of storage, never the kinds of source. The walk reads raw JSON rather than the model:
what is verified is exactly what the source holds, descriptors and all, independently of how
`show` interprets it. The walk through a blob store and the check builders are in walk.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..blob.digests import named_digest, sha256_digest
from ..model import FOREIGN_MEDIA_TYPES, Reference
from ..refs import report_label
from ..sources import input_path, open_source
from ..sources.base import Source, SourceError
from ..sources.partial import diff_ids_of, json_object, kind_of
from ..sources.view import BlobView, DescriptorRoot, LoneDocument, MemberImage, UnpackedImage
from .digest import Digester, Measured
from .judge import Expected
from .report import Check, Group, Progress, Verdict, VerifyReport
from .walk import (
    LayerBytes,
    PendingLayer,
    Plan,
    StoreWalker,
    consistency_checks,
    fail,
    history_check,
    member_key,
    metadata_check,
    platform_label_of,
    reassemble,
)


def plan_source(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Open `spec` and plan its verification (an input that can be read only once is hashed
    while it is opened, in that one pass)."""
    hasher = MemberHasher()
    reading = _PassProgress(progress, input_path(spec))
    try:
        source, selector = open_source(
            spec, config=config, host=host, observe=hasher.observe, on_read=reading.update
        )
    finally:
        reading.stop()
    hasher.close()
    references = source.selected(selector)
    if not references:  # an empty verdict would read as "verified"
        raise SourceError(f"{source.transport}: nothing to verify: the source lists no image")
    reason = source.capabilities.unhashable
    if reason is not None:
        plan = Plan(VerifyReport(spec, source.transport))
        _plan_unhashable(plan, source, references, reason)
        return plan
    view = source.blobs(references)
    plan = Plan(VerifyReport(spec, source.transport, streamed=view.streamed))
    if view.streamed:
        plan.measured.update(hasher.results)
    layers = LayerBytes(plan, view.archive, streamed=view.streamed)
    walker = StoreWalker(plan, view.store, layers, view.kept) if view.store is not None else None
    for root in view.roots:
        if isinstance(root, DescriptorRoot):
            group = Group(root.label, root.descriptor.get("digest"))
            plan.report.groups.append(group)
            assert walker is not None, "a descriptor root comes with its store"
            walker.root(group, root.descriptor)
        elif isinstance(root, MemberImage):
            group = Group(root.label, None)
            plan.report.groups.append(group)
            _member_image(plan, group, view, root, layers)
        elif isinstance(root, UnpackedImage):
            plan.report.groups.append(_unpacked_image(plan, root, view.kept))
        else:
            assert walker is not None, "a lone document comes with the folder beside it"
            _lone_document(plan, root, walker)
    if walker is not None:
        walker.finish(view.layers_may_be_absent)
    return plan


class _PassProgress:
    """The progress of reading the input itself, shown only if the one pass happens."""

    def __init__(self, progress: Progress | None, path: Path | None):
        self.progress = progress
        self.path = path
        self.read = 0
        self.started = False

    def update(self, count: int) -> None:
        if self.progress is None:
            return
        if not self.started:
            self.started = True
            path = self.path
            total = path.stat().st_size if path is not None and path.is_file() else None
            self.progress.start(total, "archive")
        self.read += count
        self.progress.update(self.read)

    def stop(self) -> None:
        if self.started and self.progress is not None:
            self.progress.stop()


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


# --- archive members named by path (legacy docker save) ----------------------------------------


def _member_image(
    plan: Plan, group: Group, view: BlobView, entry: MemberImage, layers: LayerBytes
) -> None:
    """A manifest.json entry: config member named by Image ID, layer members as listed."""
    tar = view.archive
    assert tar is not None, "member images come with their archive"
    try:
        data = tar.read(entry.config)
    except SourceError as error:
        group.checks.append(Check("config", entry.config, Verdict.UNREADABLE, str(error)))
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
    actual = sha256_digest(data)
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
        if member is not None and member.kind != "file":
            check.verdict = Verdict.UNREADABLE
            check.reason = f"the archive member is a {member.kind}, not a regular file"
            continue
        if member is None:
            check.normal = foreign
            check.reason = (
                "foreign layer, not in the archive (normal)"
                if foreign
                else "named in manifest.json, not in the archive"
            )
            continue
        key = layers.from_member(path, None, diff_id)
        if key is None:
            check.verdict = Verdict.UNREADABLE
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


def _lone_document(plan: Plan, root: LoneDocument, walker: StoreWalker) -> None:
    data, label = root.data, root.label
    document = json_object(data)
    if document is None:
        raise SourceError(f"{label} is not a JSON object")
    kind = kind_of(document)
    actual = sha256_digest(data)
    named = named_digest(Path(label).name)
    check_kind = kind if kind in ("index", "manifest", "config") else "source"
    if named is not None:
        check = metadata_check(check_kind, named, None, data, None)
    else:
        check = Check(
            check_kind,
            label,
            Verdict.NOT_CHECKABLE,
            f"no descriptor names this file; it hashes to {actual}",
            size=len(data),
        )
    group = Group(label, actual, [check])
    plan.report.groups.append(group)
    if kind == "index":
        walker.index_entries(group, document, None, 1, frozenset({actual}))
    elif kind == "manifest":
        walker.manifest(group, document, None, config_override=root.config_override)
        for config in group.checks:
            if config.kind == "config" and config.verdict is Verdict.MISSING:
                # A lone manifest file: its config need not be beside it (`--config FILE`).
                config.normal = True
                config.reason = "not beside this file (give it with --config FILE)"
    elif kind == "config":
        walker.image(group, document, None, None)
    else:
        fail(check, "it is JSON but not an image config, manifest or index")


# --- a Docker data root ------------------------------------------------------------------------


def _unpacked_image(plan: Plan, image: UnpackedImage, kept: dict) -> Group:
    """A data root's image: its config against its name (the Image ID), its layers against
    what layerdb records of them and, where their tar-split and files are here (the whole data
    root given), as the tar stream those rebuild, hashed against the diff_id."""
    group = Group(image.label, image.image_id)
    if image.config is None:
        verdict = Verdict.UNREADABLE if image.config_problem else Verdict.MISSING
        reason = image.config_problem or "not in imagedb"
        group.checks.append(Check("config", image.image_id, verdict, reason))
        return group
    check = metadata_check("config", image.image_id, None, image.config, None)
    if check.verdict is Verdict.OK:
        check.reason = "hashes to its file name (the Image ID)"
    group.checks.append(check)
    for position, layer in enumerate(image.layers, 1):
        result = Check("layer", layer.diff_id, Verdict.NOT_CHECKABLE, "", position=position)
        group.checks.append(result)
        if not layer.present:
            result.verdict, result.reason = Verdict.MISSING, "not in layerdb"
        elif layer.recorded is not None and layer.recorded != layer.diff_id:
            result.verdict, result.reason = Verdict.MISMATCH, f"layerdb records {layer.recorded}"
        elif layer.record_unreadable:
            result.verdict = Verdict.MISMATCH
            result.reason = "layerdb's diff record is not a readable digest"
        elif layer.size_problem:
            result.verdict, result.reason = Verdict.MISMATCH, layer.size_problem
        elif (found := kept.get((image.image_id, position))) and found.reassembly is not None:
            reassemble(plan, result, found, layer.diff_id)
        else:
            result.reason = (
                "in layerdb; its files are unpacked and nothing here rebuilds its tar stream"
            )
    config = json_object(image.config)
    if config is not None:
        group.checks += consistency_checks(config, None, None)
    return group


# --- sources with nothing to hash --------------------------------------------------------------


def _plan_unhashable(plan: Plan, source: Source, references: list[Reference], reason: str) -> None:
    for ref in references:
        target = source.get(ref.selector or ref.digest)
        group = Group(report_label(ref), ref.digest)
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

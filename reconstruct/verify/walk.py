"""The walk `verify` shares across content-addressed stores (OCI layouts, archives' layouts,
registry storage, blob folders): descriptors followed from index to manifests to config and
layers, metadata blobs checked as they are read, layer checks planned for later measurement.
Also the check builders the plan (plan.py) uses for every shape of storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..blob.digests import check_digest, digest_of, valid_digest
from ..blob.files import BlobLocation, file_size
from ..blob.stores import BlobStore
from ..blob.tar import TarIndex
from ..blob.tarsplit import Reassembly
from ..model import FOREIGN_MEDIA_TYPES, Platform
from ..sources.base import SourceError
from ..sources.partial import (
    MAX_GRAPH_ENTRIES,
    MAX_GRAPH_ITEMS,
    MAX_INDEX_DEPTH,
    as_list,
    diff_ids_of,
    json_object,
    kind_of,
)
from ..sources.view import KeptLayer
from ..text import platform_label as text_platform_label
from .digest import Job, Measured
from .judge import Expected, judge
from .report import Check, Group, Verdict, VerifyReport

# How writers name blobs by digest: `<hex>.json` (configs), `sha256:<hex>` (kaniko),
# `blobs/sha256/<hex>`, `<hex>.tar` and `<hex>.tar.gz` (skopeo, kaniko layers).


@dataclass
class PendingLayer:
    """A layer check waiting for its blob to be measured."""

    check: Check
    key: str
    expected: Expected
    how: str = ""  # how the bytes were had, when not read as stored (said before the verdict)


@dataclass
class Plan:
    """A verification in the making: the report so far, and the layer blobs still to read."""

    report: VerifyReport
    jobs: list[Job] = field(default_factory=list)
    pending: list[PendingLayer] = field(default_factory=list)
    measured: dict[str, Measured] = field(default_factory=dict)
    _job_keys: set[str] = field(default_factory=set)

    def add_job(
        self,
        location: BlobLocation,
        algorithm: str,
        diff_algorithm: str,
        reassembly: Reassembly | None = None,
        size: int | None = None,
    ) -> str:
        key = reassembly.key if reassembly is not None else location.key
        if key not in self._job_keys:
            self._job_keys.add(key)
            if size is None:
                size = file_size(location) or 0
            self.jobs.append(Job(key, location, size, algorithm, diff_algorithm, reassembly))
        return key

    def resolve(self) -> None:
        """Judge every planned layer check with what its blob measured."""
        for pending in self.pending:
            measured = self.measured.get(pending.key)
            if measured is None:  # a member the one pass never reached
                pending.check.verdict = Verdict.NOT_CHECKABLE
                pending.check.reason = "its bytes were not seen while reading the source"
                continue
            judge(pending.check, measured, pending.expected)
            if pending.how:
                pending.check.reason = f"{pending.how}: {pending.check.reason}"


def member_key(name: str) -> str:
    return f"member:{name}"


class LayerBytes:
    """Where layer bytes come from: files for worker processes, or a streamed archive's members
    already measured during its pass."""

    def __init__(self, plan: Plan, tar: TarIndex | None, streamed: bool):
        self.plan = plan
        self.tar = tar
        self.streamed = streamed

    def from_store(self, store: BlobStore, digest: str, diff_id: str | None) -> str | None:
        member = store.member_name(digest)
        if member is not None:  # a blob inside an archive: measured as its member
            return self.from_member(member, digest, diff_id)
        location = store.locate(digest)
        if location is None:
            return None
        return self.plan.add_job(location, _algorithm(digest), _algorithm(diff_id))

    def from_member(self, name: str, digest: str | None, diff_id: str | None) -> str | None:
        if self.tar is None:
            return None
        member = self.tar.resolve(name)
        if member is None or member.kind != "file":
            return None
        if self.streamed:
            key = member_key(member.name)
            return key if key in self.plan.measured else None
        location = self.tar.location(member.name)
        if location is None:
            return None
        return self.plan.add_job(location, _algorithm(digest), _algorithm(diff_id))


def _algorithm(digest: str | None) -> str:
    return "sha512" if digest and digest.startswith("sha512:") else "sha256"


# --- content-addressed stores: layouts, archives' layouts, registry storage, blob folders ------


class StoreWalker:
    """Walks descriptors through a blob store: index → manifests → config and layers."""

    def __init__(
        self,
        plan: Plan,
        store: BlobStore,
        layers: LayerBytes,
        kept: dict[tuple[str, int], KeptLayer] | None = None,
    ):
        self.plan = plan
        self.store = store
        self.layers = layers
        self.kept = kept or {}
        self.present_regular = 0
        self.missing_regular: list[Check] = []
        # As show's IndexGraph, per root (what one name leads to): each index walked once, its
        # entries and its layers bounded.
        self.walked_indexes: set[str] = set()
        self.entries = 0
        self.items = 0

    def root(self, group: Group, descriptor: dict[str, Any]) -> None:
        self.walked_indexes, self.entries, self.items = set(), 0, 0
        self._descriptor(group, descriptor, None, top=True, depth=0, seen=frozenset())

    def finish(self, metadata_only_allowed: bool) -> None:
        """With no layer blob present at all, a source is a metadata-only copy: say so."""
        if metadata_only_allowed and self.missing_regular and not self.present_regular:
            for check in self.missing_regular:
                check.normal = True
                check.reason = "absent: this source holds metadata only (no layer blob at all)"

    def index_entries(
        self,
        group: Group,
        index: dict[str, Any],
        platform: str | None,
        depth: int,
        seen: frozenset[str],
    ) -> None:
        """Check every entry an index lists (each entry's own platform first)."""
        children = as_list(index.get("manifests"))
        self.entries += len(children)
        if self.entries > MAX_GRAPH_ENTRIES:
            raise SourceError(f"the indexes list more than {MAX_GRAPH_ENTRIES:,} entries in all")
        for child in children:
            child = child if isinstance(child, dict) else {}
            self._descriptor(
                group,
                child,
                platform_label(child.get("platform")) or platform,
                top=False,
                depth=depth,
                seen=seen,
            )

    def _descriptor(
        self,
        group: Group,
        descriptor: dict[str, Any],
        platform: str | None,
        *,
        top: bool,
        depth: int,
        seen: frozenset[str],
    ) -> None:
        digest = descriptor.get("digest")
        if not valid_digest(digest):
            group.checks.append(
                Check("entry", str(digest), Verdict.MISMATCH, "names no valid digest", platform)
            )
            return
        if depth > MAX_INDEX_DEPTH or digest in seen:
            reason = "indexes nest in a loop" if digest in seen else "indexes nest too deep"
            group.checks.append(Check("index", digest, Verdict.MISMATCH, reason, platform))
            return
        if digest in self.walked_indexes:  # a DAG: its blob and entries are checked once
            return
        check, data = self.metadata(descriptor, "manifest", platform)
        if data is None:
            if check.verdict is Verdict.MISSING and not top:
                check.kind = "entry"
                check.normal = True
                check.reason = "listed in the index, not in this source (a copy of some platforms)"
            group.checks.append(check)
            return
        document = json_object(data)
        if document is None:
            fail(check, "it is not a JSON object")
            group.checks.append(check)
            return
        kind = kind_of(document)
        check.kind = {"index": "index", "config": "config"}.get(kind, "manifest")
        _compare_media_type(check, descriptor, document)
        group.checks.append(check)
        if kind == "index":
            self.walked_indexes.add(digest)
            self.index_entries(group, document, platform, depth + 1, seen | {digest})
        elif kind == "manifest":
            self.manifest(group, document, platform)
        elif kind == "config" and top:  # a folder of blobs topped by a config alone
            self.image(group, document, None, platform)
        else:
            fail(check, f"it is a {kind} document, not an index or manifest")

    def metadata(
        self, descriptor: dict[str, Any], kind: str, platform: str | None
    ) -> tuple[Check, bytes | None]:
        digest = descriptor["digest"]
        try:
            data = self.store.read(digest)
        except SourceError as error:
            return Check(kind, digest, Verdict.UNREADABLE, str(error), platform), None
        if data is None:
            return Check(kind, digest, Verdict.MISSING, "absent from this source", platform), None
        check = metadata_check(kind, digest, _int(descriptor.get("size")), data, platform)
        _check_size_field(check, descriptor)
        return check, data

    def manifest(
        self,
        group: Group,
        manifest: dict[str, Any],
        platform: str | None,
        config_override: bytes | None = None,
    ) -> None:
        descriptor = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        config = None
        if not valid_digest(descriptor.get("digest")):
            group.checks.append(
                Check("config", "", Verdict.MISMATCH, "the manifest names no config", platform)
            )
        else:
            if config_override is not None:
                data: bytes | None = config_override
                check = metadata_check(
                    "config", descriptor["digest"], _int(descriptor.get("size")), data, platform
                )
            else:
                check, data = self.metadata(descriptor, "config", platform)
            if check.verdict is Verdict.OK:
                check.reason += " (the Image ID)"
            group.checks.append(check)
            if data is not None:
                config = json_object(data)
                if config is None:
                    fail(check, "it is not a JSON object")
        layers = [d if isinstance(d, dict) else {} for d in manifest.get("layers") or []]
        config_digest = descriptor["digest"] if valid_digest(descriptor.get("digest")) else None
        self.image(group, config, layers, platform, config_digest)

    def image(
        self,
        group: Group,
        config: dict[str, Any] | None,
        layers: list[dict[str, Any]] | None,
        platform: str | None,
        config_digest: str | None = None,
    ) -> None:
        diff_ids = diff_ids_of(config)
        self.items += len(layers or []) + len(diff_ids)
        if self.items > MAX_GRAPH_ITEMS:
            raise SourceError(
                f"the images below one name hold more than {MAX_GRAPH_ITEMS:,} layers in all"
            )
        for position, descriptor in enumerate(layers or [], 1):
            diff_id = diff_ids[position - 1] if position <= len(diff_ids) else None
            kept = self.kept.get((config_digest, position)) if config_digest else None
            self._layer(group, descriptor, diff_id, position, platform, kept)
        if layers is None and diff_ids:
            group.checks.append(
                Check(
                    "layer",
                    "",
                    Verdict.NOT_CHECKABLE,
                    f"no manifest: the config names its {len(diff_ids)} layers by diff_id only",
                    platform,
                )
            )
        if config is not None:
            group.checks += consistency_checks(
                config, len(layers) if layers is not None else None, platform
            )

    def _layer(
        self,
        group: Group,
        descriptor: dict[str, Any],
        diff_id: str | None,
        position: int,
        platform: str | None,
        kept: KeptLayer | None = None,
    ) -> None:
        digest = descriptor.get("digest")
        media_type = (
            descriptor.get("mediaType") if isinstance(descriptor.get("mediaType"), str) else None
        )
        urls = [u for u in as_list(descriptor.get("urls")) if isinstance(u, str)]
        size = _int(descriptor.get("size"))
        check = Check("layer", str(digest), Verdict.MISSING, "", platform, urls=urls, size=size)
        check.position = position
        group.checks.append(check)
        if not _check_size_field(check, descriptor):
            return
        if not valid_digest(digest):
            fail(check, "the manifest names no valid digest for this layer")
            return
        foreign = media_type in FOREIGN_MEDIA_TYPES
        if self.store.stat(digest) is None:
            problem = self.store.problem(digest)
            if problem is None and kept is not None:
                kept_layer_check(check, kept, diff_id)
                if check.verdict is Verdict.NOT_CHECKABLE and kept.reassembly is not None:
                    reassemble(self.plan, check, kept, diff_id)
            elif problem is not None:
                check.verdict, check.reason = Verdict.UNREADABLE, problem
            elif foreign:
                check.normal = True
                check.reason = "foreign layer, not distributed with the image (normal)"
            else:
                check.reason = "absent from this source"
                self.missing_regular.append(check)
            return
        if not foreign:
            self.present_regular += 1
        key = self.layers.from_store(self.store, digest, diff_id)
        if key is None:
            check.verdict = Verdict.UNREADABLE
            check.reason = "present, but its bytes cannot be read from this source"
            return
        expected = Expected(digest=digest, size=size, diff_id=diff_id, media_type=media_type)
        self.plan.pending.append(PendingLayer(check, key, expected))


def reassemble(plan, check: Check, kept: KeptLayer, diff_id: str | None) -> None:
    """Hash the tar stream the layer's tar-split and unpacked files rebuild (containers-storage,
    a Docker data root), against the config's diff_id."""
    assert kept.reassembly is not None
    layer = kept.reassembly
    location = BlobLocation(layer.tar_split, root=layer.root)
    key = plan.add_job(location, "sha256", _algorithm(diff_id), layer, size=kept.diff_size or 0)
    expected = Expected(diff_id=diff_id or kept.diff_id, size=kept.diff_size)
    how = "rebuilt from its tar-split and unpacked files (its compressed blob is not kept)"
    plan.pending.append(PendingLayer(check, key, expected, how))


def kept_layer_check(check: Check, kept: KeptLayer, diff_id: str | None) -> None:
    """A layer kept unpacked in place of its blob: what the store records it unpacked to,
    against the config's diff_id at the same position."""
    check.verdict = Verdict.NOT_CHECKABLE
    if kept.incomplete:
        check.verdict = Verdict.MISSING
        check.reason = f"kept as layer {kept.layer_id}, whose writing never completed"
    elif kept.size_problem:
        check.verdict = Verdict.MISMATCH
        check.reason = f"kept unpacked as layer {kept.layer_id}: {kept.size_problem}"
    elif kept.diff_id is None:
        check.reason = (
            f"kept unpacked as layer {kept.layer_id}, which records no diff_id: "
            "no tar stream to hash"
        )
    elif diff_id is not None and kept.diff_id != diff_id:
        check.verdict = Verdict.MISMATCH
        check.reason = f"the store unpacked it as {kept.diff_id}, the config names {diff_id}"
    else:
        check.reason = (
            f"kept unpacked as layer {kept.layer_id} (recorded as unpacked to the config's "
            "diff_id); neither its compressed blob nor what rebuilds its tar stream is here"
        )


# --- shared pieces -----------------------------------------------------------------------------


def metadata_check(
    kind: str, digest: str, size: int | None, data: bytes, platform: str | None
) -> Check:
    """A metadata blob against the digest and size its descriptor (or name) states."""
    algorithm, _ = check_digest(digest)
    actual = digest_of(data, algorithm)
    problems = []
    if actual != digest:
        problems.append(f"the blob hashes to {actual}")
    if size is not None and size != len(data):
        problems.append(f"the descriptor says {size} bytes, the blob has {len(data)}")
    if problems:
        return Check(kind, digest, Verdict.MISMATCH, "; ".join(problems), platform, size=len(data))
    what = "digest and size match" if size is not None else "digest matches"
    return Check(kind, digest, Verdict.OK, what, platform, size=len(data))


def consistency_checks(
    config: dict[str, Any], layer_count: int | None, platform: str | None
) -> list[Check]:
    """rootfs against the manifest's layers, and history against rootfs."""
    diff_ids = diff_ids_of(config)
    if not diff_ids and layer_count:
        # The bundled sample's configs (written from a repo-info document, which does not
        # publish diff_ids) leave the list empty rather than invent it: unknown, not wrong.
        reason = f"the config lists no diff_ids for the manifest's {layer_count} layers"
        return [
            Check("rootfs", "", Verdict.NOT_CHECKABLE, reason, platform),
            Check("history", "", Verdict.NOT_CHECKABLE, reason, platform),
        ]
    checks = []
    if layer_count is not None:
        if layer_count == len(diff_ids):
            checks.append(
                Check(
                    "rootfs",
                    "",
                    Verdict.OK,
                    f"{layer_count} layers, {len(diff_ids)} diff_ids",
                    platform,
                )
            )
        else:
            checks.append(
                Check(
                    "rootfs",
                    "",
                    Verdict.MISMATCH,
                    f"the manifest lists {layer_count} layers, rootfs has {len(diff_ids)} diff_ids",
                    platform,
                )
            )
    history = config.get("history")
    if not isinstance(history, list) or not history:
        checks.append(
            Check("history", "", Verdict.NOT_CHECKABLE, "the config records no history", platform)
        )
        return checks
    non_empty = sum(
        1 for entry in history if not (isinstance(entry, dict) and entry.get("empty_layer") is True)
    )
    checks.append(history_check(non_empty, len(diff_ids), platform))
    return checks


def history_check(non_empty: int, diff_ids: int, platform: str | None) -> Check:
    if non_empty == diff_ids:
        return Check(
            "history", "", Verdict.OK, f"{non_empty} non-empty steps, {diff_ids} diff_ids", platform
        )
    return Check(
        "history",
        "",
        Verdict.MISMATCH,
        f"history has {non_empty} non-empty steps but rootfs has {diff_ids} diff_ids",
        platform,
    )


def platform_label(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    parts = [value.get("os"), value.get("architecture"), value.get("variant")]
    text = "/".join(p for p in parts if isinstance(p, str) and p)
    version = value.get("os.version")
    if isinstance(version, str) and version:
        text += f":{version}"
    return text or None


def platform_label_of(platform: Platform) -> str | None:
    return text_platform_label(platform) or None


def _compare_media_type(check: Check, descriptor: dict[str, Any], document: dict[str, Any]) -> None:
    # A note, not a mismatch: the bytes are exactly the ones named (the digest covers them, and
    # the parent's digest covers the descriptor); some writers label descriptors loosely.
    stated, actual = descriptor.get("mediaType"), document.get("mediaType")
    if isinstance(stated, str) and isinstance(actual, str) and stated != actual:
        check.reason += f"; note: the descriptor says {stated}, the blob says {actual}"


def fail(check: Check, problem: str) -> None:
    if check.verdict is Verdict.MISMATCH:
        check.reason += f"; {problem}"
    else:
        check.verdict, check.reason = Verdict.MISMATCH, problem


def _check_size_field(check: Check, descriptor: dict[str, Any]) -> bool:
    """A descriptor's `size`, when it has one, must be a whole number of bytes (not NaN, a
    float, a string, negative): else the check fails, and False."""
    if "size" not in descriptor:
        return True
    size = _int(descriptor["size"])
    if size is None or size < 0:
        fail(check, "its descriptor's size is not a number of bytes")
        return False
    return True


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

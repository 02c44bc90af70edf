"""What the commands do, as functions a library user can call too (the CLI only prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .history import CURRENT_ERA
from .model import Collection, Reference, Target
from .platforms import parse_platform, select_platform
from .refs import report_label, split_reference
from .sources import Source, SourceError, open_source

if TYPE_CHECKING:
    from .compare import Comparison
    from .contents import ImageFiles
    from .report import Report


def load(
    spec: str,
    *,
    config: str | None = None,
    platform: str | None = None,
    host: str | None = None,
    exact: bool | None = None,
    recover: bool = False,
) -> Target:
    """One image or index; `host`/`exact` go with an engine (see sources/engine/). With
    `recover`, COPY/ADD steps recorded only by a content hash get what their layer adds
    (`Step.recovered`), where the source keeps the layer."""
    source, selector = open_source(spec, config=config, host=host, exact=exact)
    target = source.get(selector)
    if platform:
        target = select_platform(target, parse_platform(platform))
    if recover and source.capabilities.unhashable is None:
        from .contents.recover import recover as recover_sources

        recover_sources(target, source.blobs([target.reference]))
    return target


def load_whole(spec: str) -> Collection | None:
    """The whole document `spec` names when it is one document of many images (a repository's
    tag-details.md) and no selector picks one of them; None for every other source."""
    from .sources import source_class_for

    kind = source_class_for(spec)
    if kind is None or not kind.capabilities.whole_document:
        return None
    source, selector = open_source(spec)
    if selector:
        return None
    collections = list(source.collections().values())
    return collections[0] if len(collections) == 1 else None


def render_whole(collection: Collection, *, era: int | None = None) -> str:
    """A whole tag-details.md, each document in its own era unless `era` is given."""
    from .render.tagdetails import render_collection

    return render_collection(collection, era)


def render(
    target: Target,
    fmt: str,
    *,
    name: str | None = None,
    era: int | None = None,
    no_trunc: bool = False,
) -> str:
    """`target` as text in one of `render.FORMATS`; `name` (NAME[:TAG]) overrides the name the
    repo-info header prints, `era` the generator year to follow (default: the document's own)."""
    from . import render as renderers

    repo, tag = _name_and_tag(target, name)
    era = era or target.era or CURRENT_ERA
    return renderers.render(target, fmt, repo=repo, tag=tag, era=era, no_trunc=no_trunc)


def load_all(
    spec: str,
    *,
    platform: str | None = None,
    host: str | None = None,
    exact: bool | None = None,
):
    """(reference, Target or the error that stopped it) for every image the source holds.

    The source is opened and listed now, so a source that cannot be read at all (an engine that
    is not running) fails here, before any output; the images are then read one by one.
    """
    source, selector = open_source(spec, host=host, exact=exact)
    references = source.selected(selector)
    wanted = parse_platform(platform) if platform else None
    return _each(source, references, wanted)


def _each(source, references, wanted):
    from .sources import SourceError

    for reference in references:
        try:
            target = get_listed(source, reference)
            if wanted is not None:
                target = select_platform(target, wanted)
        except (SourceError, LookupError, ValueError, OSError) as error:
            yield reference, error
            continue
        yield reference, target


def get_listed(source: Source, reference: Reference) -> Target:
    """The image a reference from `source.references()` names, read directly (no lookup of
    its selector among every reference: that would make reading a whole store quadratic)."""
    return source.get_reference(reference)


def _name_and_tag(target: Target, override: str | None) -> tuple[str, str]:
    if override:
        name, tag = split_reference(override)
        if not name:
            raise ValueError(f"--name {override!r}: expected NAME[:TAG]")
        return name, tag or "latest"
    return target.reference.name or "<none>", target.reference.tag or "<none>"


def list_references(spec: str, *, host: str | None = None) -> list[Reference]:
    """What a source holds, one Reference per name:tag (or per untagged image)."""
    source, _ = open_source(spec, host=host)
    return source.references()


@dataclass
class Compared:
    """Two images and how they compare (compare/__init__.py's Comparison)."""

    a: Target
    b: Target
    comparison: Comparison

    @property
    def differs(self) -> bool:
        return self.comparison.differs


def compare(spec_a: str, spec_b: str, *, platform: str | None = None) -> Compared:
    """Both sources loaded and compared."""
    from .compare import compare as compare_targets

    a, b = load(spec_a, platform=platform), load(spec_b, platform=platform)
    return Compared(a, b, compare_targets(a, b))


def comparison_diff(a: Target, b: Target, label_a: str, label_b: str) -> tuple[str, list[str]]:
    """A unified diff of the two repo-info renderings, under one name so headers agree, and
    notes on how it was aligned (said when the budget made it pair lines by position)."""
    from .compare.textdiff import unified_diff
    from .render import repoinfo

    name = a.reference.name or b.reference.name or "<none>"
    tag = a.reference.tag or b.reference.tag or "<none>"
    left = repoinfo.render(a, name, tag, a.era or CURRENT_ERA).splitlines(keepends=True)
    right = repoinfo.render(b, name, tag, b.era or CURRENT_ERA).splitlines(keepends=True)
    return unified_diff(left, right, label_a, label_b)


def base(spec: str, against: list[str], *, platform: str | None = None):
    """For each image of `spec`: every candidate image ranked as its base (see base.py)."""
    from .compare.ancestry import match, prepare, rank, windows_base

    target = load(spec, platform=platform)
    candidates = []
    for candidate_spec in against:
        source, selector = open_source(candidate_spec)
        references = [selector] if selector else [r.selector for r in source.references()]
        for reference in references:
            candidates.append(
                (
                    f"{candidate_spec}:{reference}"
                    if reference and not selector
                    else candidate_spec,
                    prepare(source.get(reference)),
                )
            )
    report = []
    for section in target.sections():
        if section.image is None:
            continue
        found = [
            m for label, c in candidates if (m := match(section.image, section.platform, c, label))
        ]
        report.append((section, rank(found), windows_base(section.image)))
    return report


def verify(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    workers: int | None = None,
    progress=None,
):
    """Every blob the source holds checked against what names it (a VerifyReport, verify.py).

    `workers`: processes reading layers (default: one per CPU); `progress`: a verify.Progress.
    """
    from .verify import verify as verify_source

    return verify_source(spec, config=config, host=host, workers=workers, progress=progress)


def audit(
    spec: str,
    *,
    platform: str | None = None,
    host: str | None = None,
    exact: bool | None = None,
    files: bool = False,
):
    """Findings in the history and config of every image the source holds (an AuditReport);
    with `files`, in what each step wrote too (its layer's files: audit/filefindings.py)."""
    from .audit import AuditReport, ImageAudit, Knowledge, audit_target, wants_contents

    listings = None
    if files:
        options = {"host": host, "exact": exact}
        source, references, listings = _open_with_layers(spec, wants_contents, **options)
    else:
        source, selector = open_source(spec, host=host, exact=exact)
        references = source.selected(selector)
    view = _layer_view(source, references) if files else None
    wanted = parse_platform(platform) if platform else None
    knows = Knowledge(
        config=source.capabilities.config,
        whole_history=source.capabilities.whole_history,
    )
    report = AuditReport(spec)
    seen: dict[tuple[str, str | None], ImageAudit] = {}
    for reference in references:
        target = get_listed(source, reference)
        if wanted is not None:
            target = select_platform(target, wanted)
        for image in audit_target(target, report_label(reference), knows):
            key = (image.config_digest or "", image.platform)
            if image.config_digest and key in seen:
                seen[key].label += f", {image.label}"
                continue
            seen[key] = image
            if view is not None:
                _audit_files(image, target, view, listings)
            report.images.append(image)
    return report


def _open_with_layers(spec: str, keep=None, **options):
    """The source, the images its selector names, and what was listed of their layers where
    the bytes pass only once: an archive that can be read only once (compressed, standard
    input) lists them while it is opened; an engine is read through its export, listing them
    as it streams (then the export is the source). `keep` as `blob.tarformat.listing` takes it."""
    from .contents.streamed import StreamedListings

    listings = StreamedListings(keep=keep)
    try:
        source, selector = open_source(spec, observe=listings.observe, **options)
        references = source.selected(selector)
        exported = source.exported(references, listings.observe)
    finally:
        listings.close()
    if exported is not None:
        source, references = exported, exported.references()
    return source, references, listings.listings


def _layer_view(source: Source, references: list[Reference]):
    from .sources import SourceError

    reason = source.capabilities.unhashable
    if reason is not None:
        raise SourceError(f"{source.transport}: no layer to list: {reason}")
    return source.blobs(references)


def _audit_files(image, target: Target, view, listings) -> None:
    """Add the findings in the files the image's steps wrote, in step order with the rest."""
    from .audit import file_findings, wants_contents
    from .contents import image_files

    section = next(
        (
            s
            for s in target.sections()
            if s.image is not None and s.image.config_digest == image.config_digest
        ),
        None,
    )
    if section is None or section.image is None:
        return
    files = image_files(
        section.image,
        view,
        image.label,
        image.platform,
        keep=wants_contents,
        listings=listings,
    )
    image.findings = sorted(
        image.findings + file_findings(files), key=lambda f: (f.step is None, f.step or 0)
    )


def files(
    spec: str,
    *,
    step: int | None = None,
    layer: str | None = None,
    platform: str | None = None,
    host: str | None = None,
    workers: int | None = None,
):
    """What each step of every image the source holds wrote (a list of contents.ImageFiles):
    its layer's entries as changes, read from the layer blobs the source keeps (an engine's
    from its export, `host` as for every engine), `workers` processes listing layers."""
    from .contents import target_files

    source, references, listings = _open_with_layers(spec, host=host)
    if not references:  # an empty listing would read as "nothing was written"
        raise SourceError(f"{source.transport}: nothing to list: the source lists no image")
    view = _layer_view(source, references)
    wanted = parse_platform(platform) if platform else None
    found: list[ImageFiles] = []
    seen: dict[tuple[str, str | None], ImageFiles] = {}
    for reference in references:
        target = get_listed(source, reference)
        if wanted is not None:
            target = select_platform(target, wanted)
        for image in target_files(target, view, report_label(reference), listings, workers):
            key = (image.config_digest or "", image.platform)
            if image.config_digest and key in seen:
                seen[key].label += f", {image.label}"  # one image under several names
                continue
            seen[key] = image
            if step is not None:
                image.steps = [s for s in image.steps if s.step == step]
            if layer is not None:
                image.steps = [s for s in image.steps if s.layer and s.layer.startswith(layer)]
            found.append(image)
    return found


describe_reference = report_label


def report(
    spec: str,
    *,
    against: str | None = None,
    config: str | None = None,
    platform: str | None = None,
    host: str | None = None,
    workers: int | None = None,
    progress=None,
) -> Report:
    """Everything `report` shows (a report.Report), gathered as `show`, `verify`, `audit` and
    `compare` gather it. `platform` narrows the history, the audit and the comparison (verify
    always checks every blob of the source); `workers`/`progress` go to verify."""
    from .report import gather

    return gather(
        spec,
        against=against,
        config=config,
        platform=platform,
        host=host,
        workers=workers,
        progress=progress,
    )


def render_report(report: Report, *, era: int | None = None) -> str:
    """The report as one self-contained HTML document (render/html/)."""
    from .render import html

    return html.render(
        report.target,
        report.verify,
        report.audit,
        report.comparison,
        source=report.source,
        against=report.against,
        era=era,
        generated=report.generated,
    )


def write_report(path: str, text: str) -> None:
    """`text` becomes the file `path`, whole or not at all (mirror/outdir.py replace_file)."""
    from .mirror.outdir import replace_file

    replace_file(path, text.encode("utf-8"))

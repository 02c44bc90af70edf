"""`report`: one self-contained HTML document for people (model in, text out).

What it holds: the image and every platform it holds, each image's reconstructed history (each
step's date and line as repo-info prints them, its layer's digest and size, empty and foreign
markers), a bar chart of the layer sizes (inline SVG, foreign Windows base layers hatched), the
verify verdicts, the audit findings and, when given, the comparison with upstream.

Images are untrusted and this is a page a browser renders, so:

- Markup is built by `_el`, which escapes every string it is given (`html.escape`, quotes too,
  in text and in attribute values alike, SVG included) after `text.terminal_safe` has spelled
  out terminal and bidi controls (`\\x1b`, `\\u202e`: no reordered or hidden text) and lone
  surrogates are spelled out (`\\udc80`: the file is always valid UTF-8). Only `Markup` built
  here is inserted as it is.
- Nothing is fetched: no script, no link, no image, no font, no `src` or `href` but the
  page's own `#anchors`. A Content-Security-Policy meta tag says so to the browser too:
  `default-src 'none'`, the one style block allowed by its SHA-256 hash, no base, no form.
- It prints: `@media print` rules, black on white, the table of contents left out.
"""

from __future__ import annotations

from datetime import datetime

from ... import __version__
from ...audit import AuditReport
from ...compare import Comparison
from ...history import CURRENT_ERA
from ...model import Index, Target
from ...text import platform_string
from ...verify.report import VerifyReport
from .. import auditreport
from ..comparison import count_differences
from .image import anchor, image_section, reference_name, section_title
from .markup import (
    CONTENT_SECURITY_POLICY,
    CSS,
    Markup,
    digest_span,
    dl,
    el,
    mark,
    size_text,
    table,
    warnings_list,
)
from .results import audit_section, compare_section, verify_section, verify_summary


def render(
    target: Target,
    verified: VerifyReport | None,
    audited: AuditReport | None,
    compared: Comparison | None = None,
    *,
    source: str,
    against: str | None = None,
    era: int | None = None,
    generated: datetime | None = None,
) -> str:
    """The whole HTML document. `source`/`against` are the specs as the user gave them;
    `era` the repo-info generator year the history lines follow (default: the target's own,
    else today's); `generated` when the report was made (left out when None)."""
    era = era or target.era or CURRENT_ERA
    name = reference_name(target)
    sections = list(target.sections())
    shown = [s for s in sections if s.image is not None and not s.platform.is_unknown]
    toc = [("image", "Image and platforms")]
    toc += [(anchor(n), f"History: {section_title(s)}") for n, s in enumerate(shown, 1)]
    if verified is not None:
        toc.append(("verify", "Verify"))
    if audited is not None:
        toc.append(("audit", "Audit"))
    if compared is not None:
        toc.append(("compare", "Comparison"))
    made = f"reconstruct {__version__}"
    if generated is not None:
        made += f", {generated.strftime('%Y-%m-%d %H:%M:%S UTC')}"
    body = [
        el(
            "header",
            el("h1", f"Image report: {name}"),
            el("p", f"Source: {source}", f"  ·  Against: {against}" if against else None),
            el("p", f"Reconstructed offline from the image's metadata by {made}."),
            class_="band",
        ),
        el(
            "main",
            el(
                "nav",
                el("strong", "Contents: "),
                [el("a", title, href=f"#{anchor}") for anchor, title in toc],
                class_="toc",
            ),
            _overview(target, name, verified, audited, compared, against),
            [image_section(n, s, era) for n, s in enumerate(shown, 1)],
            verify_section(verified) if verified is not None else None,
            audit_section(audited) if audited is not None else None,
            compare_section(compared, source, against or "") if compared is not None else None,
        ),
    ]
    head = el(
        "head",
        Markup('<meta charset="utf-8">'),
        el("meta", http_equiv="Content-Security-Policy", content=CONTENT_SECURITY_POLICY),
        el("meta", name="referrer", content="no-referrer"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("meta", name="generator", content=f"reconstruct {__version__}"),
        el("title", f"reconstruct report: {name}"),
        Markup(f"<style>{CSS}</style>"),
    )
    return "<!DOCTYPE html>\n" + el("html", head, el("body", body), lang="en") + "\n"


def _overview(
    target: Target,
    name: str,
    verified: VerifyReport | None,
    audited: AuditReport | None,
    compared: Comparison | None,
    against: str | None,
) -> Markup:
    root = target.root
    digest = root.digest if isinstance(root, Index) else root.manifest_digest
    kind = (
        f"index ({root.media_type or 'media type unknown'})"
        if isinstance(root, Index)
        else "single image"
    )
    glance: list[tuple[str, object]] = [
        ("Name", name),
        ("Digest", digest_span(digest)),
        ("Kind", kind),
    ]
    if verified is not None:
        glance.append(("Verify", verify_summary(verified)))
    if audited is not None:
        glance.append(("Audit", auditreport.summary(audited)))
    if compared is not None:
        differing = count_differences(compared)
        glance.append(
            (
                "Comparison",
                f"against {against}: "
                + ("differ" if compared.differs else "equal")
                + (f" ({differing} differences)" if differing else ""),
            )
        )
    rows = []
    for section in target.sections():
        entry, image = section.entry, section.image
        marks = []
        if section.platform.is_unknown:
            marks.append(mark("attestation (no runnable image)", "empty"))
        if image is None:
            marks.append(mark("not present in this source (only its index entry)", "empty"))
        elif any(layer.foreign for layer in image.layers):
            marks.append(mark("foreign base layers", "foreign"))
        rows.append(
            el(
                "tr",
                el("td", platform_string(section.platform)),
                el(
                    "td",
                    digest_span(
                        entry.digest if entry else image.manifest_digest if image else None
                    ),
                ),
                el("td", digest_span(image.config_digest if image else None)),
                el("td", size_text(image.total_size) if image else "", class_="num"),
                el("td", marks),
            )
        )
    warnings = root.warnings if isinstance(root, Index) else []
    return el(
        "section",
        el("h2", "Image and platforms"),
        dl(glance),
        el("h4", f"Platforms held: {len(rows)}"),
        table(
            (
                "Platform",
                "Manifest digest",
                "Image ID",
                "Total size",
                "Notes",
            ),
            rows,
        ),
        warnings_list(warnings),
        id="image",
    )

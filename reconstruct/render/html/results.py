"""The verify verdicts, the audit findings and the comparison with upstream."""

from __future__ import annotations

from ...audit import AuditReport, ImageAudit
from ...compare import DIFFER, UNKNOWN, Comparison, Field, PlatformComparison
from ...verify.report import Check, Verdict, VerifyReport
from .. import auditreport, verifyreport
from ..comparison import STATUS_WORDS, count_differences, field_text, pair_summary
from .markup import Markup, digest_span, dl, el, table


def verify_summary(report: VerifyReport) -> Markup:
    line = verifyreport.summary(report)
    return el("span", line, class_="verdict-bad" if report.failed else "verdict-ok")


def _verdict_class(check: Check) -> str:
    if check.failed:
        return "verdict-bad"
    if check.verdict is Verdict.OK:
        return "verdict-ok"
    return "verdict-normal" if check.verdict is Verdict.MISSING else "verdict-na"


def verify_section(report: VerifyReport) -> Markup:
    how = " Read once, hashed as it streamed." if report.streamed else ""
    groups = []
    for group in report.groups:
        rows = []
        for check in group.checks:
            verdict = check.verdict.value + (" (normal)" if check.normal else "")
            reason = [check.reason]
            if check.urls:
                reason += [el("br"), el("span", "urls: " + " ".join(check.urls), class_="digest")]
            rows.append(
                el(
                    "tr",
                    el("td", verdict, class_=_verdict_class(check)),
                    el("td", check.platform or ""),
                    el(
                        "td",
                        check.kind + (f" {check.position}" if check.position is not None else ""),
                    ),
                    el("td", digest_span(check.name)),
                    el("td", reason),
                )
            )
        groups.append(
            el(
                "div",
                el(
                    "h4",
                    group.label,
                    " ",
                    digest_span(group.digest) if group.digest != group.label else None,
                ),
                table(
                    (
                        "Verdict",
                        "Platform",
                        "What",
                        "Blob",
                        "Reason",
                    ),
                    rows,
                ),
            )
        )
    return el(
        "section",
        el("h2", "Verify"),
        el(
            "p",
            "Every index, manifest, config and layer blob the source holds, checked against "
            "the digest and size that name it, and every layer against its diff_id (what "
            f"`reconstruct verify` reports; all platforms).{how}",
            class_="muted",
        ),
        el("p", el("strong", "Result: "), verify_summary(report)),
        groups,
        id="verify",
    )


def audit_section(report: AuditReport) -> Markup:
    images = [_audit_image(image) for image in report.images]
    return el(
        "section",
        el("h2", "Audit"),
        el(
            "p",
            "Secrets (masked), risky build steps, config and history problems, each with its "
            "step, rule id, severity and reason (what `reconstruct audit` reports). Secrets "
            "the audit finds are masked in the history above too.",
            class_="muted",
        ),
        el("p", el("strong", "Result: "), auditreport.summary(report)),
        images,
        id="audit",
    )


def _audit_image(image: ImageAudit) -> Markup:
    extra = [p for p in (image.platform, image.config_digest) if p and p != image.label]
    heading = el("h4", image.label, f"  ({', '.join(extra)})" if extra else None)
    if not image.findings:
        return el("div", heading, el("p", "No findings.", class_="muted"))
    rows = [
        el(
            "tr",
            el("td", finding.severity.upper(), class_=f"sev-{finding.severity}"),
            el("td", el("code", finding.rule), " ", finding.name),
            el("td", f"step {finding.step}" if finding.step is not None else "image"),
            el(
                "td",
                finding.reason,
                el("pre", finding.evidence, class_="muted") if finding.evidence else None,
            ),
        )
        for finding in image.findings
    ]
    return el(
        "div",
        heading,
        table(
            (
                "Severity",
                "Rule",
                "Where",
                "Reason and evidence",
            ),
            rows,
        ),
    )


def compare_section(comparison: Comparison, label_a: str, label_b: str) -> Markup:
    differing = count_differences(comparison)
    result = ("differ" if comparison.differs else "equal") + (
        f" ({differing} differences)" if differing else ""
    )
    return el(
        "section",
        el("h2", "Comparison"),
        el(
            "p",
            "Histories and layers compared per platform, steps aligned in order (what "
            "`reconstruct compare` reports). A value one side cannot know is unknown, never a "
            "difference.",
            class_="muted",
        ),
        dl([("A", label_a), ("B", label_b), ("Result", result)]),
        _fields([f for f in comparison.fields if f.status != "equal"]),
        [_compare_platform(p) for p in comparison.platforms],
        id="compare",
    )


def _field_value(value: object) -> str:
    return "" if value is None else field_text(value)


def _fields(fields: list[Field]) -> Markup | None:
    if not fields:
        return None
    rows = []
    for field in fields:
        status = "differs" if field.status == DIFFER else "unknown"
        if field.status != DIFFER:
            status += f" ({'A' if field.a is None else 'B'} cannot know it)"
        rows.append(
            el(
                "tr",
                el("td", field.name),
                el("td", status, class_="verdict-bad" if field.status == DIFFER else "verdict-na"),
                el("td", el("pre", _field_value(field.a))),
                el("td", el("pre", _field_value(field.b))),
            )
        )
    return table(("Field", "Status", "A", "B"), rows)


def _compare_platform(platform: PlatformComparison) -> Markup:
    notes = [el("li", note) for note in platform.notes]
    if platform.platform_a is None or platform.platform_b is None:
        side = "A" if platform.platform_b is None else "B"
        title = platform.platform_a or platform.platform_b or ""
        return el(
            "div",
            el("h4", f"Platform {title}: only in {side}"),
            el("ul", notes) if notes else None,
        )
    title = (
        platform.platform_a
        if platform.platform_a == platform.platform_b
        else f"{platform.platform_a} ~ {platform.platform_b}"
    )
    unknown = [f.name for f in platform.fields if f.status == UNKNOWN]
    steps = []
    for pair in platform.steps:
        if (pair.status == "matched" and not pair.differs) or pair.status == "base":
            continue
        status = "rebuilt" if pair.status == "matched" else pair.status
        steps.append(
            el(
                "tr",
                el("td", STATUS_WORDS[status]),
                el("td", "" if pair.a_index is None else pair.a_index + 1, class_="num"),
                el("td", el("pre", pair.a or "")),
                el("td", "" if pair.b_index is None else pair.b_index + 1, class_="num"),
                el("td", el("pre", pair.b or "")),
            )
        )
    layers = []
    for pair in platform.layers:
        if not pair.differs:
            continue
        status = "differing" if pair.status == "matched" else pair.status
        details = [
            f"{f.name}: A {_field_value(f.a)} / B {_field_value(f.b)}"
            for f in pair.fields
            if f.status == DIFFER
        ] or [pair.a or pair.b or ""]
        layers.append(
            el(
                "tr",
                el("td", STATUS_WORDS[status]),
                el("td", "" if pair.a_index is None else pair.a_index + 1, class_="num"),
                el("td", "" if pair.b_index is None else pair.b_index + 1, class_="num"),
                el("td", el("pre", "\n".join(details))),
            )
        )
    return el(
        "div",
        el("h3", f"Platform {title}" if title else "Platform (Dockerfile)"),
        _fields([f for f in platform.fields if f.status == DIFFER]),
        el("p", "Not known to both sides: " + ", ".join(unknown), class_="muted")
        if unknown
        else None,
        el("ul", notes) if notes else None,
        el("p", el("strong", "Steps: "), pair_summary(platform.steps)),
        table(
            (
                "Status",
                "A step",
                "A",
                "B step",
                "B",
            ),
            steps,
        )
        if steps
        else None,
        el("p", el("strong", "Layers: "), pair_summary(platform.layers))
        if platform.layers
        else None,
        table(
            (
                "Status",
                "A layer",
                "B layer",
                "What differs",
            ),
            layers,
        )
        if layers
        else None,
    )

"""`audit` reports: text for people and JSON (`reconstruct/audit/v1`) for tools; SARIF 2.1.0 for
code scanning is in auditsarif.py. Findings arrive with their secrets already masked (audit.py)."""

from __future__ import annotations

import json

from .. import __version__
from ..audit import SEVERITIES, AuditReport, Finding, ImageAudit
from ..text import json_safe, terminal_safe

SCHEMA = "reconstruct/audit/v1"


def render_text(report: AuditReport) -> str:
    lines = [f"audit {report.source}"]
    for image in report.images:
        lines.append("")
        lines.append(_heading(image))
        if not image.findings:
            lines.append("  no findings")
        for finding in image.findings:
            where = f"step {finding.step}" if finding.step is not None else "image"
            lines.append(
                f"  {finding.severity.upper():<8} {finding.rule}  {where:<8}  {finding.reason}"
            )
            if finding.evidence:
                lines.append(f"  {'':<8} {'':<4}  {'':<8}  > {finding.evidence}")
    lines.append("")
    lines.append(summary(report))
    return terminal_safe("\n".join(lines) + "\n")


def _heading(image: ImageAudit) -> str:
    extra = [part for part in (image.platform, image.config_digest) if part and part != image.label]
    return image.label + (f"  ({', '.join(extra)})" if extra else "")


def summary(report: AuditReport) -> str:
    counts = report.counts()
    total = sum(counts.values())
    if not total:
        return "no findings"
    parts = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    return f"{total} finding{'s' if total != 1 else ''}: " + ", ".join(parts)


def render_json(report: AuditReport) -> str:
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "source": report.source,
        "summary": report.counts(),
        "images": [
            {
                "label": image.label,
                "platform": image.platform,
                "config_digest": image.config_digest,
                "findings": [_finding_json(finding) for finding in image.findings],
            }
            for image in report.images
        ],
    }
    return json_safe(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule,
        "name": finding.name,
        "severity": finding.severity,
        "step": finding.step,
        "reason": finding.reason,
        "evidence": finding.evidence,
    }

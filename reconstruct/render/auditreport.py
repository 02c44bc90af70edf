"""`audit` reports: text for people, JSON (`reconstruct/audit/v1`), and SARIF 2.1.0 for code
scanning tools. Findings arrive with their secrets already masked (audit.py)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

from .. import __version__
from ..audit import RULES, SEVERITIES, AuditReport, Finding, ImageAudit
from ..text import json_safe, terminal_safe

SCHEMA = "reconstruct/audit/v1"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/docker-library/repo-info"
# SARIF has three levels; GitHub code scanning ranks security results by this score instead.
SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


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


# --- SARIF 2.1.0 ------------------------------------------------------------------------------


def render_sarif(report: AuditReport, artifact: str | None = None) -> str:
    """One run; every rule described; one result per finding.

    `artifact` is the source's path when it is one (results then point at it, as code scanning
    needs a physical location); each result's logical location names the image and the step.
    """
    rule_ids = list(RULES)
    results = []
    for image in report.images:
        for finding in image.findings:
            results.append(_result(finding, image, rule_ids.index(finding.rule), artifact))
    run = {
        "tool": {
            "driver": {
                "name": "reconstruct",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rule_id) for rule_id in rule_ids],
            }
        },
        "results": results,
    }
    if artifact:
        run["artifacts"] = [{"location": {"uri": _uri(artifact)}, "roles": ["analysisTarget"]}]
    document = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json_safe(json.dumps(document, indent=2) + "\n")


def _rule(rule_id: str) -> dict[str, object]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {
            "text": f"{rule.title} ({rule.category}; default severity {rule.severity})."
        },
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", rule.category],
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }


def _result(
    finding: Finding, image: ImageAudit, index: int, artifact: str | None
) -> dict[str, object]:
    where = f"step {finding.step}" if finding.step is not None else "config"
    message = f"{image.label}, {where}: {finding.reason}"
    if finding.evidence:
        message += f"\n{finding.evidence}"
    qualified = (
        f"{image.config_digest or image.label}/history/{finding.step}"
        if finding.step
        else f"{image.config_digest or image.label}/config"
    )
    location: dict[str, object] = {
        "logicalLocations": [{"name": where, "fullyQualifiedName": qualified, "kind": "member"}],
    }
    if artifact:
        location["physicalLocation"] = {"artifactLocation": {"uri": _uri(artifact), "index": 0}}
    fingerprint = hashlib.sha256(
        "\0".join(
            [finding.rule, image.config_digest or image.label, str(finding.step), finding.reason]
        ).encode()
    ).hexdigest()
    return {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {"reconstructFinding/v1": fingerprint},
        "properties": {
            "severity": finding.severity,
            "step": finding.step,
            "image": image.label,
            "platform": image.platform,
            "configDigest": image.config_digest,
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }


def _uri(path: str) -> str:
    """A relative path as a URI reference (SARIF's artifactLocation.uri)."""
    return quote(path.replace("\\", "/"), safe="/:._-~")

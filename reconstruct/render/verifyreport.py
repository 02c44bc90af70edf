"""`verify` reports: text for people, JSON (`reconstruct/verify/v1`) for tools."""

from __future__ import annotations

import json

from .. import __version__
from ..text import json_safe, terminal_safe
from ..verify.report import Check, Verdict, VerifyReport

SCHEMA = "reconstruct/verify/v1"
_VERDICT_WIDTH = max(len(v.value) for v in Verdict)


def render_text(report: VerifyReport) -> str:
    how = " (read once, hashed as it streamed)" if report.streamed else ""
    lines = [f"verify {report.source}{how}"]
    for group in report.groups:
        lines.append("")
        lines.append(
            group.label
            + (f"  {group.digest}" if group.digest and group.digest != group.label else "")
        )
        platform = None
        for check in group.checks:
            if check.platform != platform and check.platform:
                lines.append(f"  [{check.platform}]")
            platform = check.platform
            lines += _check_lines(check)
    lines.append("")
    lines.append(summary(report))
    return terminal_safe("\n".join(lines) + "\n")


def _check_lines(check: Check) -> list[str]:
    what = check.kind + (f" {check.position}" if check.position is not None else "")
    name = f"{check.name}  " if check.name else ""
    lines = [f"  {check.verdict.value:<{_VERDICT_WIDTH}}  {what:<9} {name}{check.reason}"]
    if check.urls:
        lines.append(f"  {'':<{_VERDICT_WIDTH}}  {'':<9} urls: {' '.join(check.urls)}")
    return lines


def summary(report: VerifyReport) -> str:
    counts = report.counts()
    normal = counts["missing_normal"]
    missing = f"{counts['missing']} missing" + (f" ({normal} normal)" if normal else "")
    parts = [
        f"{counts['ok']} ok",
        f"{counts['mismatch']} mismatch",
        missing,
        f"{counts['not checkable']} not checkable",
    ]
    if counts["unreadable"]:
        parts.append(f"{counts['unreadable']} unreadable")
    if report.failed:
        verdict = "FAILED"
    elif counts["ok"] == 0 and counts["not checkable"]:
        verdict = "nothing to verify"
    else:
        verdict = "verified"
    return ", ".join(parts) + f": {verdict}"


def render_json(report: VerifyReport) -> str:
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "source": report.source,
        "transport": report.transport,
        "streamed": report.streamed,
        "exit_code": report.exit_code,
        "summary": report.counts(),
        "groups": [
            {
                "label": group.label,
                "digest": group.digest,
                "checks": [_check_json(check) for check in group.checks],
            }
            for group in report.groups
        ],
    }
    return json_safe(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _check_json(check: Check) -> dict[str, object]:
    return {
        "kind": check.kind,
        "name": check.name or None,
        "verdict": check.verdict.value,
        "reason": check.reason,
        "platform": check.platform,
        "normal": check.normal,
        "urls": check.urls,
        "size": check.size,
        "position": check.position,
    }

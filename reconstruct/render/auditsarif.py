"""`audit --format sarif`: SARIF 2.1.0, shaped so that GitHub code scanning accepts an upload.

An image has no source file to point at, so every result is placed in a file of its own naming:
`images/<name>/<tag>[/<platform>]/Dockerfile`, the image's first reference (and its platform
within an index) turned into a relative path, with line N standing for history step N, as
`audit` and `files` number steps (findings about the config or the whole image: line 1). A
repository that keeps each image's reconstructed history there gets the alerts on it, and
alerts stay apart per image, tag and platform whether or not the file exists.

Each result's `partialFingerprints` key `reconstructFinding/v2` is a hash of what the finding
is, not of where: the rule, that path and the masked evidence (else the reason), and which
occurrence of the same finding in the image it is. It leaves out the config digest (it changes
with every rebuild, and alerts would be closed and opened again on each one) and the step
number (a step inserted above would move every finding below it). GitHub's own
`primaryLocationLineHash` is not set: code scanning computes it from the file's lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from urllib.parse import quote

from .. import __version__
from ..audit import RULES, AuditReport, Finding, ImageAudit
from ..text import json_safe

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/docker-library/repo-info"
FINGERPRINT = "reconstructFinding/v2"
# SARIF has three levels; GitHub code scanning ranks security results by this score instead.
SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?")


def render_sarif(report: AuditReport) -> str:
    """One run; every rule described; one result per finding, each with a physical location."""
    rule_ids = list(RULES)
    results = []
    for image in report.images:
        uri = artifact_uri(image)
        seen: Counter[str] = Counter()
        for finding in image.findings:
            results.append(_result(finding, image, rule_ids.index(finding.rule), uri, seen))
    driver: dict[str, object] = {
        "name": "reconstruct",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(rule_id) for rule_id in rule_ids],
    }
    if _SEMVER.fullmatch(__version__):
        driver["semanticVersion"] = __version__
    run = {
        "tool": {"driver": driver},
        "results": results,
        "properties": {"source": report.source},
    }
    document = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json_safe(json.dumps(document, indent=2) + "\n")


def artifact_uri(image: ImageAudit) -> str:
    """`images/<name>/<tag>[/<os>/<arch>[/<variant>][/<os.version>]]/Dockerfile`, percent-encoded,
    no segment `.` or `..` (a relative URI that stays below `images/`)."""
    reference = image.label.split(", ", 1)[0]  # the first of the names the image goes by
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:  # no tag: `name`, a port (`host:5000/name`) or a bare tag
        name, tag = reference, ""
    parts = [*name.split("/"), tag, *(image.platform or "").replace(":", "/").split("/")]
    return "/".join(["images", *(_segment(part) for part in parts if part), "Dockerfile"])


def _segment(part: str) -> str:
    if part in (".", ".."):
        return part.replace(".", "%2E")
    return quote(part, safe="-._~@+", errors="surrogatepass")  # a lone surrogate: its bytes


def _rule(rule_id: str) -> dict[str, object]:
    rule = RULES[rule_id]
    about = f"{rule.title} ({rule.category}; default severity {rule.severity})."
    where = (
        "Found by `reconstruct audit` in an image's history and config (or, with `--files`, in "
        "what its steps wrote); line N of the result's file stands for history step N, line 1 "
        "also for the config and the image as a whole."
    )
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": about},
        "help": {"text": f"{about} {where}", "markdown": f"**{rule.title}**\n\n{about}\n\n{where}"},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", rule.category],
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }


def _result(
    finding: Finding, image: ImageAudit, index: int, uri: str, seen: Counter[str]
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
    what = hashlib.sha256(
        "\0".join([finding.rule, uri, finding.evidence or finding.reason]).encode(
            "utf-8", "surrogatepass"
        )
    ).hexdigest()
    seen[what] += 1
    return {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": finding.step or 1},
                },
                "logicalLocations": [
                    {"name": where, "fullyQualifiedName": qualified, "kind": "member"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT: f"{what}:{seen[what]}"},
        "properties": {
            "severity": finding.severity,
            "step": finding.step,
            "image": image.label,
            "platform": image.platform,
            "configDigest": image.config_digest,
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }

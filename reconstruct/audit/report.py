"""The audit's results: a Finding (rule, severity, masked reason, step, evidence), the findings of
one image (ImageAudit) and of a whole source (AuditReport, with counts and the exit code), and
Knowledge, what a source can know.

What a source cannot know is not reported: a repo-info document or a Dockerfile has no config
(so no USER is not "runs as root" there unless the history says so), an OCI config has no
Healthcheck field (a HEALTHCHECK step is then reported as dropped, not as present), and a
Dockerfile's history does not include its base image's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .rules import RULES, SEVERITIES, severity_rank


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    reason: str  # short, secrets masked
    step: int | None = None  # 1-based position in the history; None: the config or the image
    evidence: str | None = None  # the step's instruction (or the value), secrets masked

    @property
    def name(self) -> str:
        return RULES[self.rule].name


@dataclass
class ImageAudit:
    label: str  # every name of the image, and its platform within an index
    config_digest: str | None
    platform: str | None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class AuditReport:
    source: str
    images: list[ImageAudit] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for image in self.images for finding in image.findings]

    def counts(self) -> dict[str, int]:
        found = Counter(finding.severity for finding in self.findings)
        return {severity: found.get(severity, 0) for severity in SEVERITIES}

    def exit_code(self, fail_on: str | None) -> int:
        if fail_on is None:
            return 0
        floor = severity_rank(fail_on)
        return 1 if any(severity_rank(f.severity) >= floor for f in self.findings) else 0


@dataclass(frozen=True)
class Knowledge:
    """What the source can know, so that only that is reported."""

    config: bool = True  # a real config (User, ExposedPorts); False: repo-info, Dockerfile
    whole_history: bool = True  # the history includes the base image's (False: a Dockerfile)

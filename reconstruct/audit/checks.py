"""Running every check on an image, in step order, then config, then history anomalies."""

from __future__ import annotations

from datetime import UTC, datetime

from ..history import image_instructions
from ..model import Image, Target
from ..text import platform_label
from .configfindings import config_findings
from .historyfindings import history_findings
from .report import Finding, ImageAudit, Knowledge
from .riskfindings import risk_findings
from .secretfindings import secret_findings


# Knowledge is a frozen dataclass, so one shared default is safe (ruff cannot see that across
# modules).
def audit_target(
    target: Target,
    label: str,
    knows: Knowledge = Knowledge(),  # noqa: B008
    now: datetime | None = None,
) -> list[ImageAudit]:
    """Every image of a target (attestation entries, which are no runnable image, left out)."""
    several = not isinstance(target.root, Image)
    found = []
    for section in target.sections():
        image = section.image
        if image is None or (several and section.platform.is_unknown):
            continue
        platform = platform_label(section.platform) if several else None
        found.append(
            ImageAudit(label, image.config_digest, platform, audit_image(image, knows, now))
        )
    return found


def audit_image(
    image: Image,
    knows: Knowledge = Knowledge(),  # noqa: B008
    now: datetime | None = None,
) -> list[Finding]:
    """Every finding of one image, in step order, then config, then history anomalies."""
    instructions = image_instructions(image)
    secrets, redact = secret_findings(image, instructions)
    findings = list(secrets)
    for number, instruction in enumerate(instructions, 1):
        findings += risk_findings(number, instruction, redact)
    findings += config_findings(image, instructions, knows, redact)
    findings += history_findings(image, now or datetime.now(UTC))
    return sorted(findings, key=lambda f: (f.step is None, f.step or 0))

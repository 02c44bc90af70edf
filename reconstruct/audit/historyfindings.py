"""History findings (H001–H005): dates in the future or after the image, steps without
created_by, and history steps that do not match the layers.
"""

from __future__ import annotations

from datetime import datetime

from ..history.normalize import collapse
from ..model import Image
from .report import Finding
from .rules import AFTER_IMAGE_SKEW, FUTURE_SKEW, UNRECORDED_DATE


def history_findings(image: Image, now: datetime) -> list[Finding]:
    from ..text import parse_date  # here, not at the top: ..text imports dateutil

    findings = []
    created = parse_date(image.created)
    if created is not None and created <= UNRECORDED_DATE:
        created = None  # reproducible builders (jib, kaniko, ko) write the epoch or year 1
    if created is not None and created > now + FUTURE_SKEW:
        findings.append(
            Finding("H001", "medium", f"the image is dated {image.created}, in the future")
        )
    for number, step in enumerate(image.steps, 1):
        when = parse_date(step.created)
        if when is not None and when > now + FUTURE_SKEW:
            findings.append(
                Finding("H001", "medium", f"dated {step.created}, in the future", number)
            )
        elif when is not None and created is not None and when > created + AFTER_IMAGE_SKEW:
            findings.append(
                Finding(
                    "H002",
                    "medium",
                    f"dated {step.created}, after the image ({image.created})",
                    number,
                )
            )
        if not (step.created_by or "").strip():
            note = f" (comment: {collapse(step.comment)[:60]})" if step.comment else ""
            findings.append(Finding("H004", "low", f"no created_by{note}", number))
    layers = len(image.diff_ids) or len(
        [layer for layer in image.layers if "in-toto" not in (layer.media_type or "")]
    )
    what = "diff_ids" if image.diff_ids else "layers"
    if layers and image.steps and len(image.steps) < layers:
        findings.append(
            Finding("H005", "medium", f"{len(image.steps)} history steps for {layers} {what}")
        )
    elif layers and image.steps:
        non_empty = sum(1 for step in image.steps if not step.empty_layer)
        if non_empty != layers:
            findings.append(
                Finding("H003", "medium", f"{non_empty} non-empty steps for {layers} {what}")
            )
    elif layers and not image.steps and image.config_digest:
        findings.append(Finding("H005", "medium", f"no history at all for {layers} {what}"))
    return findings

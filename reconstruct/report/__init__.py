"""`report`: what one HTML document for people holds, gathered with the functions `show`,
`verify`, `audit` and `compare` use (render/html/ writes it).

Secrets the audit finds (in this image or in upstream's) are masked wherever the document
shows them, in the history lines, labels and config of the image and in the comparison's
values, not only in the findings; the comparison itself is made before masking, so two
different secrets are still a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..audit import AuditReport
from ..compare import Comparison
from ..model import Target
from ..verify import VerifyReport

Redact = Callable[[str], str]


@dataclass
class Report:
    """The image as `show` reads it, what `verify` and `audit` say of the source and, with
    `against`, how it compares with upstream (as `compare SOURCE UPSTREAM`)."""

    source: str
    target: Target
    verify: VerifyReport
    audit: AuditReport
    against: str | None = None
    comparison: Comparison | None = None
    generated: datetime | None = None

    def exit_code(self, fail_on: str | None = None) -> int:
        """1 when `verify` would exit 1 (a mismatch, an unreadable blob, an unexpected
        absence) or `audit --fail-on FAIL_ON` would; 0 otherwise. A difference from upstream
        does not count: upstream's digests differ from a local copy's as a rule."""
        return max(self.verify.exit_code, self.audit.exit_code(fail_on))


def gather(
    spec: str,
    *,
    against: str | None = None,
    config: str | None = None,
    platform: str | None = None,
    host: str | None = None,
    workers: int | None = None,
    progress=None,
) -> Report:
    from .. import api
    from ..compare import compare as compare_targets

    target = api.load(spec, config=config, platform=platform, host=host)
    comparison = None
    redact = _redactor(target)
    if against is not None:
        upstream = api.load(against, platform=platform)
        comparison = compare_targets(target, upstream)
        redact = _chain(redact, _redactor(upstream))
        _mask_comparison(comparison, redact)
    _mask_target(target, redact)
    verified = api.verify(spec, config=config, host=host, workers=workers, progress=progress)
    audited = api.audit(spec, platform=platform, host=host)
    return Report(spec, target, verified, audited, against, comparison, datetime.now(UTC))


def _redactor(target: Target) -> Redact:
    """One function masking every secret the audit finds in any image of `target`."""
    from ..audit.secretfindings import secret_findings
    from ..history import image_instructions

    found = [
        secret_findings(image, image_instructions(image))[1] for _, _, image in target.images()
    ]
    return _chain(*found)


def _chain(*redactors: Redact) -> Redact:
    def redact(text: str) -> str:
        for one in redactors:
            text = one(text)
        return text

    return redact


def _mask_target(target: Target, redact: Redact) -> None:
    for _, _, image in target.images():
        for step in image.steps:
            step.created_by = redact(step.created_by) if step.created_by else step.created_by
            step.comment = redact(step.comment) if step.comment else step.comment
        if image.labels:
            image.labels = {redact(k): redact(v) for k, v in image.labels.items()}
        for name in ("env", "entrypoint", "cmd"):
            values = getattr(image, name)
            if values:
                setattr(image, name, [redact(v) for v in values])


def _mask_comparison(comparison: Comparison, redact: Redact) -> None:
    def value(found):
        if isinstance(found, str):
            return redact(found)
        if isinstance(found, list):
            return [value(v) for v in found]
        return found

    def fields(found) -> None:
        for one in found:
            one.a, one.b = value(one.a), value(one.b)

    fields(comparison.fields)
    for platform in comparison.platforms:
        fields(platform.fields)
        for pair in [*platform.steps, *platform.layers]:
            pair.a, pair.b = value(pair.a), value(pair.b)
            fields(pair.fields)

"""`audit`: findings in an image's history and config, each with the step, a rule id, a severity
and a short reason; secrets are masked before they enter a finding. Pure logic over the model
(no I/O): checks.py runs the checks (audit_target, audit_image); the rule table is in rules.py,
the result types in report.py, the checks in secretfindings.py (S…), riskfindings.py (R…),
configfindings.py (C…) and historyfindings.py (H…), over the detectors in secrets.py and
risks.py, with evidence excerpts from evidence.py; text, JSON and SARIF in render/auditreport.py.
"""

from __future__ import annotations

import importlib
from typing import Any

# What `reconstruct.audit` offers, and the module each name lives in. Loaded on first use, so
# that the CLI can read `rules.SEVERITIES` at start-up without loading every checker.
_EXPORTS = {
    "RULES": "rules",
    "SEVERITIES": "rules",
    "Rule": "rules",
    "severity_rank": "rules",
    "AuditReport": "report",
    "Finding": "report",
    "ImageAudit": "report",
    "Knowledge": "report",
    "audit_image": "checks",
    "audit_target": "checks",
    "file_findings": "filefindings",
    "wants_contents": "filefindings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

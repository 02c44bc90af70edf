"""Risky build step findings (R001–R006): pipe-to-shell, disabled TLS or signature checks,
world-writable files, unpinned packages, remote ADD without a checksum.

The shell patterns are in risks.py; this module picks which apply to each step's keyword.
"""

from __future__ import annotations

from ..history import Instruction
from ..jsondoc import load_json
from . import risks
from .evidence import excerpt, instruction_text
from .report import Finding
from .rules import RULES
from .secrets import Redactor


def risk_findings(number: int, instruction: Instruction, redact: Redactor) -> list[Finding]:
    keyword = instruction.keyword
    text = instruction_text(instruction)
    hits: list[risks.Hit] = []
    if keyword == "RUN":
        body = _run_body(instruction.arguments)
        hits += risks.pipe_to_shell(body)
        hits += risks.tls_disabled(body)
        hits += risks.world_writable(body)
        hits += risks.unpinned_installs(body)
    elif keyword == "ENV":
        hits += [h for h in risks.tls_disabled(instruction.arguments) if h[0] == "R004"]
    elif keyword == "ADD":
        hits += risks.remote_add(instruction.arguments, instruction.buildkit)
    findings = []
    for rule, reason, _ in hits:
        findings.append(
            Finding(rule, RULES[rule].severity, redact(reason), number, excerpt(redact(text)))
        )
    return findings


def _run_body(arguments: str) -> str:
    """A RUN's command; the exec form's words joined as the shell would see them."""
    text = arguments.strip()
    if text.startswith("["):
        try:
            words = load_json(text)
        except ValueError:
            return text
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return " ".join(words)
    return text

"""Secret findings (S001–S004): secrets in history steps (RUN bodies, ARG defaults, ENV, LABEL),
in the build args recorded on them, and in the config's ENV and LABEL.

Detection and masking are in secrets.py; this module turns what it finds into findings, one per
secret value, and returns the Redactor that the other checks use to mask their evidence.
"""

from __future__ import annotations

from ..history import Instruction
from ..history.normalize import pairs
from ..model import Image
from .evidence import excerpt, instruction_text
from .report import Finding
from .rules import RULES
from .secrets import (
    Redactor,
    Secret,
    find_assignments,
    find_tokens,
    high_entropy,
    literal_value,
    mask,
    secret_name,
)


def secret_findings(
    image: Image, instructions: list[Instruction]
) -> tuple[list[Finding], Redactor]:
    """Secret findings, and a Redactor that masks every secret value found in this image."""
    found: list[tuple[int | None, str, str, Secret, str]] = []  # step, rule, reason, secret, text
    for number, instruction in enumerate(instructions, 1):
        text = instruction_text(instruction)
        for secret, rule, reason in _step_secrets(instruction):
            found.append((number, rule, reason, secret, text))
    config_text = [("ENV", item) for item in image.env or []] + [
        ("LABEL", f"{key}={value}") for key, value in (image.labels or {}).items()
    ]
    for keyword, item in config_text:
        for secret, rule, reason in _pair_secrets(keyword, *_split_pair(item)):
            found.append((None, rule, f"{reason} (in the config)", secret, f"{keyword} {item}"))
    redact = Redactor(secret for _, _, _, secret, _ in found)
    # One finding per secret value, at the first step that records it: builders repeat the build
    # args on every later RUN, and the config keeps what ENV set.
    steps_of: dict[str, list[int]] = {}
    for step, _, _, secret, _ in found:
        if step is not None and step not in steps_of.setdefault(secret.value, []):
            steps_of[secret.value].append(step)
    findings, seen = [], set()
    for step, rule, reason, secret, text in found:
        if secret.value in seen:
            continue
        seen.add(secret.value)
        severity = RULES[rule].severity
        if rule == "S004" and not secret.known_format and not high_entropy(secret.value):
            severity = "medium"  # a literal, but short or simple: perhaps a placeholder
        again = steps_of.get(secret.value, [])[1:]
        if again:
            reason += f" (again at step{'s' if len(again) > 1 else ''} {_numbers(again)})"
        findings.append(
            Finding(rule, severity, redact(reason), step, excerpt(redact(text), secret.masked))
        )
    return findings, redact


def _numbers(steps: list[int]) -> str:
    return ", ".join(map(str, steps[:8])) + (
        f" and {len(steps) - 8} more" if len(steps) > 8 else ""
    )


def _step_secrets(instruction: Instruction) -> list[tuple[Secret, str, str]]:
    found: list[tuple[Secret, str, str]] = []
    if instruction.build_args:
        for name, value in pairs(instruction.build_args):
            found += _arg_secrets(name, value, "build arg")
    keyword = instruction.keyword
    if keyword == "ARG":
        for name, value in pairs(instruction.arguments):
            if "=" in instruction.arguments:
                found += _arg_secrets(name, value, "ARG default")
    elif keyword in ("ENV", "LABEL"):
        for name, value in pairs(instruction.arguments):
            found += _pair_secrets(keyword, name, value)
    else:
        body = instruction.arguments
        for secret in find_tokens(body):
            found.append(_token_finding(secret, f"{_where(keyword)} holds a {secret.what}"))
        for secret in find_assignments(body):
            found.append(
                (
                    secret,
                    "S004",
                    f"{_where(keyword)} sets {secret.what.removesuffix(' assignment')}={secret.masked}",
                )
            )
    return found


def _arg_secrets(name: str, value: str, what: str) -> list[tuple[Secret, str, str]]:
    tokens = find_tokens(value)
    if tokens:
        return [
            _token_finding(t, f"{what} {name} holds a {t.what}: {name}={t.masked}") for t in tokens
        ]
    if secret_name(name) and literal_value(value):
        secret = Secret(f"{what} {name}", value, mask(value), 0, name=name)
        return [
            (
                secret,
                "S001",
                f"{what} {name} is recorded in the history with its value: {name}={secret.masked}",
            )
        ]
    return []


def _pair_secrets(keyword: str, name: str, value: str) -> list[tuple[Secret, str, str]]:
    tokens = find_tokens(value)
    if tokens:
        return [
            _token_finding(t, f"{keyword} {name} holds a {t.what}: {name}={t.masked}")
            for t in tokens
        ]
    if secret_name(name) and literal_value(value):
        secret = Secret(f"{keyword} {name}", value, mask(value), 0, name=name)
        return [
            (secret, "S004", f"{keyword} {name} is set to a literal value: {name}={secret.masked}")
        ]
    return []


def _token_finding(secret: Secret, reason: str) -> tuple[Secret, str, str]:
    return secret, "S003" if secret.what == "private key" else "S002", reason


def _split_pair(item: str) -> tuple[str, str]:
    name, _, value = item.partition("=")
    return name, value


def _where(keyword: str) -> str:
    return f"{keyword} step" if keyword else "step"

"""`audit`: findings in an image's history and config, each with the step, a rule id, a severity
and a short reason. Secrets are masked before they enter a finding.

Rules (RULES below): secrets (S…), risky build steps (R…), config (C…), history anomalies (H…).
What a source cannot know is not reported: a repo-info document or a Dockerfile has no config
(so no USER is not "runs as root" there unless the history says so), an OCI config has no
Healthcheck field (a HEALTHCHECK step is then reported as dropped, not as present), and a
Dockerfile's history does not include its base image's.

Pure logic over the model (no I/O); text, JSON and SARIF in render/auditreport.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from . import risks as auditrisks
from ..history import Instruction, image_instructions
from ..history.normalize import collapse, pairs
from ..model import OCI_MANIFEST, Image, Platform, Target
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

SEVERITIES = ("info", "low", "medium", "high", "critical")
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
FUTURE_SKEW = timedelta(days=1)  # clocks differ; a day ahead is still "now"
AFTER_IMAGE_SKEW = timedelta(seconds=1)  # builders round the image's time differently
EXCERPT = 160
UNRECORDED_DATE = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
SENSITIVE_PORTS = {
    "22": "SSH",
    "23": "telnet",
    "2375": "the Docker API (plain)",
    "3389": "RDP",
    "5900": "VNC",
}
ROOT_USERS = frozenset({"root", "0", "0:0", "root:root", "0:root", "root:0"})


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str  # the default; a finding may differ (a low-entropy password: medium)
    title: str
    category: str  # secret, risk, config, history


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "S001",
            "secret-build-arg",
            "high",
            "A build argument with a secret name is recorded with its value",
            "secret",
        ),
        Rule(
            "S002",
            "known-token",
            "critical",
            "A value matches a known token format (cloud key, GitHub/GitLab/Slack token, JWT, …)",
            "secret",
        ),
        Rule(
            "S003",
            "private-key",
            "critical",
            "A private key is recorded in the history or config",
            "secret",
        ),
        Rule(
            "S004",
            "secret-assignment",
            "high",
            "A password, secret or token is assigned a literal value",
            "secret",
        ),
        Rule(
            "R001",
            "pipe-to-shell",
            "high",
            "A script is downloaded and run without verification (curl|wget … | sh)",
            "risk",
        ),
        Rule(
            "R002",
            "remote-add-without-checksum",
            "medium",
            "ADD from a URL without --checksum",
            "risk",
        ),
        Rule(
            "R003",
            "world-writable",
            "medium",
            "chmod makes files world-writable (chmod 777)",
            "risk",
        ),
        Rule(
            "R004",
            "tls-verification-disabled",
            "high",
            "TLS certificate verification is disabled",
            "risk",
        ),
        Rule(
            "R005",
            "unpinned-package",
            "low",
            "Packages are installed without a version (apt-get, apk, yum, pip)",
            "risk",
        ),
        Rule(
            "R006",
            "signature-verification-disabled",
            "medium",
            "Package signature verification is disabled",
            "risk",
        ),
        Rule(
            "C001",
            "runs-as-root",
            "medium",
            "The container runs as root (no USER, or USER root)",
            "config",
        ),
        Rule("C002", "no-healthcheck", "low", "The image defines no working HEALTHCHECK", "config"),
        Rule("C003", "exposed-ports", "info", "The image exposes ports", "config"),
        Rule("H001", "future-timestamp", "medium", "A timestamp lies in the future", "history"),
        Rule(
            "H002",
            "step-after-image",
            "medium",
            "A step is dated after the image's creation",
            "history",
        ),
        Rule(
            "H003",
            "layer-count-mismatch",
            "medium",
            "The non-empty history steps do not match the layers",
            "history",
        ),
        Rule(
            "H004", "no-created-by", "low", "A history step does not say what created it", "history"
        ),
        Rule(
            "H005",
            "fewer-steps-than-layers",
            "medium",
            "The history has fewer steps than the image has layers",
            "history",
        ),
    )
}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


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
    artifact: str | None = None  # the source's path, when it is a file or folder

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


def audit_target(
    target: Target, label: str, knows: Knowledge = Knowledge(), now: datetime | None = None
) -> list[ImageAudit]:
    """Every image of a target (attestation entries, which are no runnable image, left out)."""
    several = not isinstance(target.root, Image)
    found = []
    for section in target.sections():
        image = section.image
        if image is None or (several and section.platform.is_unknown):
            continue
        platform = _platform_text(section.platform) if several else None
        found.append(
            ImageAudit(label, image.config_digest, platform, audit_image(image, knows, now))
        )
    return found


def _platform_text(platform: Platform) -> str:
    text = "/".join(p for p in (platform.os, platform.architecture, platform.variant) if p)
    return text + (f":{platform.os_version}" if platform.os_version else "")


def audit_image(
    image: Image, knows: Knowledge = Knowledge(), now: datetime | None = None
) -> list[Finding]:
    """Every finding of one image, in step order, then config, then history anomalies."""
    instructions = image_instructions(image)
    secrets, redact = _secrets(image, instructions)
    findings = list(secrets)
    for number, instruction in enumerate(instructions, 1):
        findings += _risks(number, instruction, redact)
    findings += _config(image, instructions, knows, redact)
    findings += _history(image, now or datetime.now(UTC))
    return sorted(findings, key=lambda f: (f.step is None, f.step or 0))


# --- secrets ----------------------------------------------------------------------------------


def _secrets(image: Image, instructions: list[Instruction]) -> tuple[list[Finding], Redactor]:
    """Secret findings, and a Redactor that masks every secret value found in this image."""
    found: list[tuple[int | None, str, str, Secret, str]] = []  # step, rule, reason, secret, text
    for number, instruction in enumerate(instructions, 1):
        text = _instruction_text(instruction)
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
            Finding(rule, severity, redact(reason), step, _excerpt(redact(text), secret.masked))
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


# --- risky steps ------------------------------------------------------------------------------


def _risks(number: int, instruction: Instruction, redact: Redactor) -> list[Finding]:
    keyword = instruction.keyword
    text = _instruction_text(instruction)
    hits: list[auditrisks.Hit] = []
    if keyword == "RUN":
        body = _run_body(instruction.arguments)
        hits += auditrisks.pipe_to_shell(body)
        hits += auditrisks.tls_disabled(body)
        hits += auditrisks.world_writable(body)
        hits += auditrisks.unpinned_installs(body)
    elif keyword == "ENV":
        hits += [h for h in auditrisks.tls_disabled(instruction.arguments) if h[0] == "R004"]
    elif keyword == "ADD":
        hits += auditrisks.remote_add(instruction.arguments, instruction.buildkit)
    findings = []
    for rule, reason, _ in hits:
        findings.append(
            Finding(rule, RULES[rule].severity, redact(reason), number, _excerpt(redact(text)))
        )
    return findings


def _run_body(arguments: str) -> str:
    """A RUN's command; the exec form's words joined as the shell would see them."""
    text = arguments.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            return text
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return " ".join(words)
    return text


# --- config -----------------------------------------------------------------------------------


def _config(
    image: Image, instructions: list[Instruction], knows: Knowledge, redact: Redactor
) -> list[Finding]:
    findings = []
    user_steps = [(n, i) for n, i in enumerate(instructions, 1) if i.keyword == "USER"]
    windows = image.platform.os == "windows"
    if knows.config:
        user = (image.user or "").strip()
        step = user_steps[-1][0] if user_steps else None
        if not user:
            who = "ContainerAdministrator" if windows else "root"
            findings.append(
                Finding("C001", "medium", f"no USER: the container runs as {who}", None)
            )
        elif user.lower() in ROOT_USERS or (windows and user.lower() == "containeradministrator"):
            findings.append(
                Finding(
                    "C001",
                    "medium",
                    f"USER {user}: the container runs as an administrator"
                    if windows
                    else f"USER {user}: the container runs as root",
                    step,
                )
            )
    elif user_steps:
        step, last = user_steps[-1]
        if last.arguments.strip().lower() in ROOT_USERS:
            findings.append(
                Finding("C001", "medium", f"the last USER step sets {last.arguments.strip()}", step)
            )
    elif knows.whole_history and instructions:
        findings.append(
            Finding(
                "C001", "medium", "no USER step in the history: the container runs as root", None
            )
        )
    findings += _healthcheck(image, instructions, knows)
    findings += _ports(image, instructions, knows)
    return findings


def _healthcheck(image: Image, instructions: list[Instruction], knows: Knowledge) -> list[Finding]:
    if not instructions:
        return []  # no history: whether the config has one cannot be told from the model
    checks = [(n, i) for n, i in enumerate(instructions, 1) if i.keyword == "HEALTHCHECK"]
    if not checks:
        if not knows.whole_history:
            return []  # the base image may define one
        return [Finding("C002", "low", "no HEALTHCHECK in the history", None)]
    step, last = checks[-1]
    arguments = last.arguments.strip()
    if arguments.upper() == "NONE" or arguments.startswith('&{["NONE"]'):
        return [Finding("C002", "low", "HEALTHCHECK NONE disables the health check", step)]
    oci = image.config_media_type == OCI_CONFIG or (
        image.config_media_type is None and image.manifest_media_type == OCI_MANIFEST
    )
    if knows.config and oci:
        return [
            Finding(
                "C002",
                "low",
                "HEALTHCHECK is in the history, but an OCI image config cannot carry it: "
                "engines will not run it",
                step,
            )
        ]
    return []


def _ports(image: Image, instructions: list[Instruction], knows: Knowledge) -> list[Finding]:
    if knows.config:
        ports = list(image.exposed_ports or [])
        step = None
    else:
        exposes = [(n, i) for n, i in enumerate(instructions, 1) if i.keyword == "EXPOSE"]
        ports = [p for _, i in exposes for p in _expose_ports(i.arguments)]
        step = exposes[-1][0] if exposes else None
    if not ports:
        return []
    sensitive = [
        f"{p} ({SENSITIVE_PORTS[p.split('/')[0]]})"
        for p in ports
        if p.split("/")[0] in SENSITIVE_PORTS
    ]
    if sensitive:
        return [Finding("C003", "medium", "exposes " + ", ".join(sensitive), step)]
    return [Finding("C003", "info", "exposes " + ", ".join(ports), step)]


def _expose_ports(arguments: str) -> list[str]:
    found = re.findall(r"(\d+(?:-\d+)?(?:/\w+)?)", arguments)
    return [p if "/" in p else f"{p}/tcp" for p in found]


# --- history anomalies ------------------------------------------------------------------------


def _history(image: Image, now: datetime) -> list[Finding]:
    from ..text import parse_date

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


# --- evidence ---------------------------------------------------------------------------------


def _instruction_text(instruction: Instruction) -> str:
    """One line per step: `RUN …`, with its build args when recorded."""
    text = collapse(f"{instruction.keyword} {instruction.arguments}".strip())
    if instruction.build_args:
        text = f"[ARGS {collapse(instruction.build_args)}] {text}"
    return text


def _excerpt(text: str, focus: str | None = None) -> str:
    """At most EXCERPT characters of `text`, around `focus` when given."""
    if len(text) <= EXCERPT:
        return text
    at = text.find(focus) if focus else -1
    start = 0 if at < EXCERPT // 2 else min(at - EXCERPT // 3, len(text) - EXCERPT)
    piece = text[start : start + EXCERPT]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT < len(text) else "")

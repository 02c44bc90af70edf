"""Config findings (C001–C003): runs as root, no working HEALTHCHECK, exposed ports.

Read from the config when the source has one (Knowledge.config), else from the history's USER,
HEALTHCHECK and EXPOSE steps.
"""

from __future__ import annotations

import re

from ..history import Instruction
from ..model import OCI_MANIFEST, Image
from .report import Finding, Knowledge
from .rules import OCI_CONFIG, ROOT_USERS, SENSITIVE_PORTS
from .secrets import Redactor

PORT = re.compile(r"(\d+(?:-\d+)?(?:/\w+)?)")  # an EXPOSE argument: 80, 8000-8010/udp


def config_findings(
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
    found = PORT.findall(arguments)
    return [p if "/" in p else f"{p}/tcp" for p in found]

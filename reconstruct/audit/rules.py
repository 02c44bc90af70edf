"""The audit's rule table: every rule's id, name, default severity, title and category, the
severity scale, and the thresholds and value sets the checks use.

Standard library only: the CLI may import SEVERITIES from here at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SEVERITIES = ("info", "low", "medium", "high", "critical")
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
FUTURE_SKEW = timedelta(days=1)  # clocks differ; a day ahead is still "now"
AFTER_IMAGE_SKEW = timedelta(seconds=1)  # builders round the image's time differently
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
    category: str  # secret, risk, config, history, file (audit --files)


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
        Rule(
            "F001",
            "secret-in-file",
            "critical",
            "A file a step wrote holds a secret (known token format, private key, credential)",
            "file",
        ),
        Rule(
            "F002",
            "secret-removed-later",
            "critical",
            "A step wrote a secret that a later step removed: its layer still holds it",
            "file",
        ),
        Rule(
            "F003",
            "credential-file",
            "high",
            "A step wrote a credential file (.npmrc, .pypirc, .netrc, cloud credentials, .env, …)",
            "file",
        ),
        Rule("F004", "setuid-file", "medium", "A step wrote a setuid or setgid file", "file"),
        Rule("F005", "world-writable", "low", "A step wrote a world-writable file", "file"),
    )
}
# Files whose very name says they hold credentials (the last path components, lower case).
CREDENTIAL_FILES = frozenset(
    {
        ".npmrc",
        ".pypirc",
        ".netrc",
        "_netrc",
        ".git-credentials",
        ".env",
        ".aws/credentials",
        ".docker/config.json",
        ".config/gcloud/credentials.db",
        ".config/gcloud/application_default_credentials.json",
        ".azure/accesstokens.json",
        ".kube/config",
        ".ssh/id_rsa",
        ".ssh/id_ecdsa",
        ".ssh/id_ed25519",
        ".ssh/id_dsa",
        ".pgpass",
        ".my.cnf",
    }
)
# Other small files worth reading for secrets: configuration and key material by suffix.
SECRET_SUFFIXES = (
    ".env", ".pem", ".key", ".p12", ".cfg", ".conf", ".ini", ".json", ".yaml", ".yml", ".toml",
    ".properties", ".xml", ".sh", ".txt", "rc",
)  # fmt: skip
MAX_SCANNED_FILE = 256 * 1024  # a configuration or key file; larger ones are not read


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)

"""`audit`: secrets (masked everywhere), risky steps, config and history findings; what a source
cannot know is not reported; text, JSON and SARIF 2.1.0; `--fail-on`.

Images come from real builds (dockerd's classic builder and buildah record `--build-arg
TOKEN=s3cr3t` in history) and from configs written here, each step in the form a real builder
writes it. Token-shaped test values are assembled at run time, not stored whole in the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconstruct import __version__
from reconstruct import api as service
from reconstruct.audit import (
    RULES,
    SEVERITIES,
    AuditReport,
    Finding,
    ImageAudit,
    Knowledge,
    audit_image,
)
from reconstruct.audit.secrets import entropy, mask, secret_name
from reconstruct.render import auditreport, auditsarif
from reconstruct.sources.partial import image_from_config
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import CORPUS, SAMPLE, need
from tests.support.schemas import check

SECRET = "s3cr3t"  # tests/plugins/engines/images.py: the --build-arg TOKEN value of the full image
SH = "/bin/sh -c "
NOP = "/bin/sh -c #(nop)  "


def token(
    prefix: str,
    length: int,
    alphabet: str = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
) -> str:
    """A token-shaped value with a known prefix (deterministic, high entropy)."""
    seed = hashlib.sha256(prefix.encode()).digest() * 8
    return prefix + "".join(alphabet[b % len(alphabet)] for b in seed[:length])


GITHUB = token("gh" + "p_", 36)
GITLAB = token("glp" + "at-", 20)
AWS = "AK" + "IA" + token("", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
JWT = ".".join(["ey" + "JhbGciOiJIUzI1NiJ9", "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0", token("", 43)])
SLACK_HOOK = "https://hooks.slack.com/" + "services/T0123ABCD/B0123ABCD/" + token("", 24)
PRIVATE_KEY = (
    "-----BEGIN " + "OPENSSH PRIVATE KEY-----" + token("", 60) + "-----END OPENSSH PRIVATE KEY-----"
)
MYSQL_PASSWORD = "Zx9kQ2vB7pL4mW8r"
URL_PASSWORD = "S3cr3tP4ssw0rdX9"
ALL_SECRETS = (
    GITHUB,
    GITLAB,
    AWS,
    JWT,
    SLACK_HOOK,
    PRIVATE_KEY,
    MYSQL_PASSWORD,
    URL_PASSWORD,
    "hunter2",
)


def config(history: list[dict], **settings) -> dict:
    """A Docker image config; `created` after every step unless given."""
    layers = sum(1 for h in history if not h.get("empty_layer"))
    document = {
        "architecture": "amd64",
        "os": settings.pop("os", "linux"),
        "created": settings.pop("created", "2024-05-01T00:00:00Z"),
        "config": settings,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{i:064x}" for i in range(layers)]},
        "history": history,
    }
    return document


def step(
    created_by: str | None, empty: bool = False, created: str = "2024-04-01T00:00:00Z"
) -> dict:
    entry: dict = {"created": created}
    if created_by is not None:
        entry["created_by"] = created_by
    if empty:
        entry["empty_layer"] = True
    return entry


def audit_of(document: dict, knows: Knowledge | None = None) -> list[Finding]:
    return audit_image(image_from_config(document), knows or Knowledge())


def rules_at(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return [(f.rule, f.step) for f in findings]


def all_outputs(report) -> str:
    return "\n".join(
        [
            auditreport.render_text(report),
            auditreport.render_json(report),
            auditsarif.render_sarif(report),
        ]
    )


# --- secrets ------------------------------------------------------------------------------------


def secrets_config() -> dict:
    history = [
        step(f"|1 NPM_TOKEN={GITHUB} {SH}npm ci"),
        step(f"{NOP}ENV AWS_ACCESS_KEY_ID={AWS}", empty=True),
        step(f"{NOP}ENV DB_PASSWORD=hunter2", empty=True),
        step(f"{SH}echo '{PRIVATE_KEY}' > /root/.ssh/id_ed25519"),
        step(f'{SH}curl -H "Authorization: Bearer {JWT}" https://api.example.com/x'),
        step(f"{SH}mysql --password={MYSQL_PASSWORD} -e 'select 1'"),
        step(f"{SH}git clone https://builder:{URL_PASSWORD}@git.example.com/app.git"),
        step(f"{NOP}LABEL hook={SLACK_HOOK}", empty=True),
        # not secrets: a public key fingerprint, a variable, a file, a .NET public key token
        step(f"{NOP}ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", empty=True),
        step(f'{SH}echo "token=$TOKEN" && cat /run/secrets/password'),
        step(f"{SH}gacutil /i Foo, PublicKeyToken=b03f5f7f11d50a3a"),
        step(f"{NOP}ENV PASSWORD_FILE=/run/secrets/db API_TOKEN=", empty=True),
    ]
    return config(
        history,
        Env=[f"AWS_ACCESS_KEY_ID={AWS}", f"CI_TOKEN={GITLAB}", "PATH=/usr/bin"],
        User="app",
    )


def test_secrets_in_build_args_env_label_and_run_are_found():
    findings = [f for f in audit_of(secrets_config()) if f.rule.startswith("S")]
    assert rules_at(findings) == [
        ("S002", 1),  # a GitHub token in a build arg
        ("S002", 2),  # an AWS key in ENV (not again for the config's Env)
        ("S004", 3),  # DB_PASSWORD=hunter2
        ("S003", 4),  # a private key written by RUN
        ("S002", 5),  # a JWT in a RUN
        ("S004", 6),  # --password=<high entropy>
        ("S004", 7),  # credentials in a URL
        ("S002", 8),  # a Slack webhook in a LABEL
        ("S002", None),  # a GitLab token only the config's Env shows
    ]
    by_step = {f.step: f for f in findings}
    assert by_step[1].severity == "critical" and "GitHub token" in by_step[1].reason
    assert by_step[3].severity == "medium"  # a literal, but low entropy
    assert by_step[6].severity == "high" and by_step[7].severity == "high"
    assert by_step[4].reason.endswith("private key") and by_step[4].severity == "critical"
    assert "ghp_******" in by_step[1].reason  # the kind of token shows, none of its secret part


def test_secrets_never_appear_in_any_output(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(secrets_config()))
    report = service.audit(str(path))
    text = all_outputs(report)
    for secret in ALL_SECRETS:
        assert secret not in text, secret
    for part in (GITHUB[4:20], AWS[4:], JWT.split(".")[2][:12], PRIVATE_KEY[40:60]):
        assert part not in text
    assert "******" in text


def test_masking_rules():
    assert mask("s3cr3t") == "******"  # short: nothing shown
    assert mask(GITHUB, 4) == "ghp_******"
    assert mask("abc", 4) == "******"
    assert secret_name("TOKEN") and secret_name("NPM_AUTH_TOKEN") and secret_name("db.password")
    assert not secret_name("GPG_KEY") and not secret_name("PASSWORD_FILE")
    assert not secret_name("PWD") and not secret_name("PublicKeyToken")
    assert entropy("aaaa") == 0 and entropy("abcd") == 2


def test_a_secret_repeated_on_later_steps_is_one_finding():
    history = [
        step(f"|2 TOKEN={SECRET} V=1 {SH}make"),
        step(f"|2 TOKEN={SECRET} V=1 {SH}make install"),
        step(f"|2 TOKEN={SECRET} V=1 {SH}true"),
    ]
    (finding,) = [f for f in audit_of(config(history, User="1")) if f.rule == "S001"]
    assert finding.step == 1 and "again at steps 2, 3" in finding.reason
    assert SECRET not in finding.reason + (finding.evidence or "")
    assert finding.evidence.startswith("[ARGS TOKEN=****** V=1] RUN make")


# --- risky steps --------------------------------------------------------------------------------


RISKY = [
    ("R001", "curl -fsSL https://get.example.com/install.sh | sh"),
    ("R001", "wget -qO- https://example.com/i.sh | sudo -E bash -s -- --yes"),
    ("R001", 'sh -c "$(curl -fsSL https://example.com/install.sh)"'),
    ("R001", "curl -sSL https://example.com/get-pip.py | python3 -"),
    ("R001", "iwr https://example.com/i.ps1 -UseBasicParsing | iex"),
    ("R003", "chmod 777 /app"),
    ("R003", "chmod -R o+w /srv"),
    ("R004", "wget --no-check-certificate https://example.com/x.tgz"),
    ("R004", "curl -fsSLk https://example.com/x.tgz -o x.tgz"),
    ("R004", "GIT_SSL_NO_VERIFY=1 git clone https://example.com/r.git"),
    ("R004", "python -c 'import requests; requests.get(u, verify=False)'"),
    ("R004", "pip install --trusted-host pypi.example.com foo==1.0"),
    ("R006", "apk add --allow-untrusted /tmp/x.apk"),
    ("R005", "apt-get update && apt-get install -y --no-install-recommends curl ca-certificates"),
    ("R005", "apk add --no-cache --virtual .build-deps gcc musl-dev"),
    ("R005", "yum install -y httpd"),
    ("R005", "pip install --no-cache-dir flask requests==2.31.0"),
    ("R005", "python3 -m pip install -U pip"),
]
SAFE = [
    "curl -fsSL https://example.com/x.tgz | tar -xz -C /opt",
    "curl -fsSLo x.tgz https://example.com/x.tgz && echo 'abc  x.tgz' | sha256sum -c -",
    "curl -s https://example.com/v.json | python3 -c 'import json,sys; print(1)'",
    "chmod 1777 /tmp && chmod 755 /app && chmod u+x /entry.sh",
    "apt-get install -y curl=7.88.1-10 ca-certificates=20230311",
    "apt-get -o Dpkg::Options::=--force-confold install -y nginx=1.22.1-9",
    "apk add --no-cache --virtual .deps gcc=12.2.1-r4",
    "yum install -y httpd-2.4.57",
    'pip install --no-cache-dir "pip==$PYTHON_PIP_VERSION" -r requirements.txt',
    "pip install /tmp/app.whl ./local",
    "curl --keepalive-time 2 -fsSL https://example.com/x -o /x",
]


@pytest.mark.parametrize(("rule", "command"), RISKY)
def test_risky_run_steps(rule: str, command: str):
    findings = audit_of(config([step(SH + command)], User="1"))
    assert rule in [f.rule for f in findings if f.step == 1], findings
    hit = next(f for f in findings if f.rule == rule)
    assert hit.severity == RULES[rule].severity and hit.evidence.startswith("RUN ")


@pytest.mark.parametrize("command", SAFE)
def test_safe_run_steps_are_not_flagged(command: str):
    findings = audit_of(config([step(SH + command)], User="1"))
    assert not [f for f in findings if f.rule.startswith("R")], findings


def test_unpinned_packages_are_named():
    (finding,) = [
        f
        for f in audit_of(config([step(SH + "apt-get install -y a b=1 c")], User="1"))
        if f.rule == "R005"
    ]
    assert finding.reason == "apt-get installs packages without a version: a, c"


def test_remote_add_without_checksum():
    history = [
        step("ADD https://example.com/app.tgz /opt/ # buildkit"),
        step("ADD --checksum=sha256:abc https://example.com/app.tgz /opt/ # buildkit"),
        step(f"{NOP}ADD file:0123456789abcdef in /opt/ "),  # the classic builder keeps no URL
        step(f"{NOP}ENV GIT_SSL_NO_VERIFY=true", empty=True),
    ]
    findings = audit_of(config(history, User="1"))
    assert [(f.rule, f.step) for f in findings if f.rule.startswith("R")] == [
        ("R002", 1),
        ("R004", 4),
    ]
    assert "BuildKit does not record --checksum" in findings[0].reason


# --- config -------------------------------------------------------------------------------------


def test_user_healthcheck_and_ports():
    root = audit_of(config([step(SH + "true")], ExposedPorts={"22/tcp": {}, "80/tcp": {}}))
    assert [(f.rule, f.severity) for f in root] == [
        ("C001", "medium"),
        ("C002", "low"),
        ("C003", "medium"),
    ]
    assert "no USER" in root[0].reason and "22/tcp (SSH)" in root[2].reason

    history = [
        step(f"{NOP}USER root", empty=True),
        step(f'{NOP}HEALTHCHECK &{{["NONE"] "0s" "0s" "0s" \'\\x00\'}}', empty=True),
    ]
    findings = audit_of(config(history, User="root", ExposedPorts={"8080/tcp": {}}))
    assert [(f.rule, f.step, f.severity) for f in findings] == [
        ("C001", 1, "medium"),
        ("C002", 2, "low"),
        ("C003", None, "info"),
    ]
    healthy = audit_of(
        config(
            [step(f'{NOP}HEALTHCHECK &{{["CMD-SHELL" "true"] "30s" "3s" "0s" \'\\x00\'}}', True)],
            User="app",
        )
    )
    assert not healthy

    windows = audit_of(config([step("cmd /S /C echo")], os="windows"))
    assert "ContainerAdministrator" in windows[0].reason
    assert not [
        f
        for f in audit_of(config([step("cmd /S /C echo")], os="windows", User="ContainerUser"))
        if f.rule == "C001"
    ]


def test_an_oci_config_cannot_carry_a_healthcheck():
    document = config([step('HEALTHCHECK CMD ["true"] # buildkit', empty=True)], User="1")
    image = image_from_config(document)
    image.config_media_type = "application/vnd.oci.image.config.v1+json"
    (finding,) = audit_image(image)
    assert finding.rule == "C002" and "OCI image config cannot carry it" in finding.reason


# --- history ------------------------------------------------------------------------------------


def test_history_anomalies():
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    history = [
        step(None, created="2024-01-01T00:00:00Z"),
        step(SH + "true", created="2024-06-01T00:00:00Z"),  # after the image (2024-05-01)
        step(SH + "true", created=future),
    ]
    document = config(history, User="1")
    document["rootfs"]["diff_ids"].append("sha256:" + "f" * 64)  # 4 layers, 3 steps
    findings = [f for f in audit_of(document) if f.rule.startswith("H")]
    assert rules_at(findings) == [("H004", 1), ("H002", 2), ("H001", 3), ("H005", None)]
    assert (
        "in the future" in findings[2].reason
        and "3 history steps for 4 diff_ids" in findings[3].reason
    )

    document = config([step(SH + "a"), step(SH + "b", empty=True)], User="1")
    document["rootfs"]["diff_ids"].append("sha256:" + "e" * 64)  # 2 layers, 1 non-empty step
    assert rules_at([f for f in audit_of(document) if f.rule.startswith("H")]) == [("H003", None)]

    # reproducible builders date the image at the epoch: not "steps after the image"
    document = config(
        [step(SH + "a", created="2019-07-18T21:20:21Z")], User="1", created="1970-01-01T00:00:00Z"
    )
    assert not [f for f in audit_of(document) if f.rule.startswith("H")]


# --- what a source can know ---------------------------------------------------------------------


def test_sources_without_a_config(tmp_path: Path):
    document = need(CORPUS / "repo-info" / "python__3-windowsservercore__06ac6884aa.md")
    report = service.audit(str(document))
    rules = {f.rule for f in report.findings}
    assert "C003" not in rules  # no config: ports unknown
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN true\n")
    assert service.audit(str(dockerfile)).findings == []  # the base may set USER, HEALTHCHECK
    dockerfile.write_text("FROM busybox\nUSER root\nEXPOSE 22\nRUN curl -k https://x | sh\n")
    report = service.audit(str(dockerfile))
    assert [(f.rule, f.step) for f in report.findings] == [
        ("C001", 1),
        ("C003", 2),
        ("R001", 3),
        ("R004", 3),
    ]


def test_sample_and_windows_corpus():
    report = service.audit(str(SAMPLE))
    assert len(report.images) == 3 and all(
        i.platform.startswith("windows/amd64:") for i in report.images
    )
    for image in report.images:
        assert [f.rule for f in image.findings] == ["C001", "C002"]
        assert "ContainerAdministrator" in image.findings[0].reason
    windows = need(
        CORPUS
        / "fixtures"
        / "config"
        / "dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_config.json"
    )
    rules = [f.rule for f in service.audit(str(windows)).findings]
    assert "S004" not in rules  # PublicKeyToken=… is public


# --- formats and the command line ---------------------------------------------------------------


def _sarif_of(path: Path) -> dict:
    result = run("audit", path, "--format", "sarif")  # run() checks it against the schemas
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_sarif_is_valid_and_uploadable(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(secrets_config()))
    log = _sarif_of(path)
    check("sarif", log)  # the OASIS schema, and what GitHub code scanning requires
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == __version__
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    assert all(r["help"]["text"] and r["properties"]["security-severity"] for r in rules)
    results = run_["results"]
    assert results and {r["ruleId"] for r in results} >= {"S002", "S003", "S004"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        # a bare config names no image: its file is named for what the label says
        assert physical["artifactLocation"]["uri"].startswith("images/")
        assert physical["artifactLocation"]["uri"].endswith("/Dockerfile")
        step = result["properties"]["step"]
        assert physical["region"]["startLine"] == (step or 1)
        name = location["logicalLocations"][0]["name"]
        assert name == (f"step {step}" if step else "config")
        assert set(result["partialFingerprints"]) == {"reconstructFinding/v2"}
    assert {r["level"] for r in results} <= {"error", "warning", "note"}
    assert "s3cr3t" not in json.dumps(log)


def _fingerprints(document: dict) -> list[str]:
    """The fingerprints of a config's findings, the image named `example/app:1` as a registry
    would name it (a bare config is known only by its digest, which a rebuild changes)."""
    digest = "sha256:" + hashlib.sha256(json.dumps(document).encode()).hexdigest()  # Image ID
    audited = ImageAudit("example/app:1", digest, None, audit_of(document))
    log = json.loads(auditsarif.render_sarif(AuditReport("example", [audited])))
    check("sarif", log)
    return [r["partialFingerprints"]["reconstructFinding/v2"] for r in log["runs"][0]["results"]]


def test_sarif_fingerprints_outlive_a_rebuild_and_a_step_inserted():
    """A rebuild (new dates: a new config digest) or a step inserted above keeps every alert."""
    document = secrets_config()
    rebuilt = json.loads(json.dumps(document))
    for entry in rebuilt["history"]:
        entry["created"] = "2025-01-02T03:04:05Z"
    rebuilt["created"] = "2025-01-02T03:05:00Z"
    rebuilt["history"].insert(0, step(f"{SH}echo inserted"))
    rebuilt["rootfs"]["diff_ids"].insert(0, "sha256:" + "e" * 64)
    before, after = _fingerprints(document), _fingerprints(rebuilt)
    assert before and len(set(before)) == len(before)  # none shared
    assert set(before) <= set(after)
    assert _fingerprints(document) == before  # deterministic


@pytest.mark.parametrize(
    ("label", "platform", "uri"),
    [
        ("python:3", None, "images/python/3/Dockerfile"),
        (
            "docker.io/library/python:3, python:latest",
            "windows/amd64:10.0.17763.737",
            "images/docker.io/library/python/3/windows/amd64/10.0.17763.737/Dockerfile",
        ),
        (
            "localhost:5000/app",
            "linux/arm/v7",
            "images/localhost%3A5000/app/linux/arm/v7/Dockerfile",
        ),
        ("sha256:abc", None, "images/sha256/abc/Dockerfile"),
        ("../../etc:..", None, "images/%2E%2E/%2E%2E/etc/%2E%2E/Dockerfile"),
        ("a b/ü:t\x1b", None, "images/a%20b/%C3%BC/t%1B/Dockerfile"),
    ],
)
def test_sarif_artifact_uri_names_the_image_below_images(label, platform, uri):
    assert auditsarif.artifact_uri(ImageAudit(label, None, platform)) == uri


def test_json_and_text_formats(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(secrets_config()))
    document = json.loads(run("audit", path, "-f", "json").out)
    assert document["schema"] == "reconstruct/audit/v1"
    assert set(document["summary"]) == set(SEVERITIES)
    (image,) = document["images"]
    assert {f["rule"] for f in image["findings"]} >= {"S002", "S003", "S004"}
    assert all(
        set(f) == {"rule", "name", "severity", "step", "reason", "evidence"}
        for f in image["findings"]
    )
    text = run("audit", path).out
    assert "CRITICAL S002  step 1" in text and re.search(r"\d+ findings: \d+ critical", text)


def test_fail_on_severity(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config([step(SH + "apt-get install -y curl")], User="1")))
    assert run("audit", path).code == 0
    assert run("audit", path, "--fail-on", "low").code == 1
    assert run("audit", path, "--fail-on", "medium").code == 0
    assert_one_line_error(run("audit", path, "--fail-on", "severe"))
    assert_one_line_error(run("audit", tmp_path / "missing.json"))


# --- real builds --------------------------------------------------------------------------------


def _token_findings(report) -> list[Finding]:
    return [f for f in report.findings if f.rule == "S001" and "TOKEN" in f.reason]


def test_build_args_from_the_classic_builder_are_found_masked(docker_saves):
    for save in (docker_saves.full, docker_saves.full_gz):
        report = service.audit(str(save.path))
        (finding,) = _token_findings(report)
        history = json.loads(save.configs[save.manifest[0]["Config"]])["history"]
        first = next(
            i for i, h in enumerate(history, 1) if f"TOKEN={SECRET}" in h.get("created_by", "")
        )
        assert finding.step == first and finding.severity == "high"
        assert "TOKEN=******" in finding.reason and "again at steps" in finding.reason
        assert SECRET not in all_outputs(report)
        assert not [f for f in report.findings if f.rule == "C001"]  # USER 1000:1000


def test_build_args_from_buildah_are_found_masked(podman, buildah):
    for saves in podman.saves.values():
        for artifact in saves.values():
            report = service.audit(str(artifact.path))
            assert len(_token_findings(report)) == 1, artifact.path
            assert SECRET not in all_outputs(report)
    # buildah's OCI configs drop HEALTHCHECK: said, not hidden
    report = service.audit(str(podman.oci_dir.path))
    assert [f for f in report.findings if f.rule == "C002" and "OCI" in f.reason]


def test_cli_audit_of_an_engine_image_and_sarif(dockerd):
    result = run(
        "audit", "--host", dockerd.host, "docker-daemon:reconstruct-test/full:1", "-f", "sarif"
    )
    assert result.code == 0, result.err
    log = json.loads(result.out)
    check("sarif", log)
    assert any(r["ruleId"] == "S001" for r in log["runs"][0]["results"])
    assert SECRET not in result.out and "artifacts" not in log["runs"][0]
    failing = run(
        "audit",
        "--host",
        dockerd.host,
        "docker-daemon:reconstruct-test/full:1",
        "--fail-on",
        "high",
    )
    assert failing.code == 1 and SECRET not in failing.out + failing.err

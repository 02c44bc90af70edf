"""Every JSON output the tests see, checked against its published schema.

The package's own schemas (reconstruct/schemas, draft 2020-12) for reconstruct's documents; the
OASIS SARIF 2.1.0 schema (tests/data, draft-04) and what GitHub code scanning needs to accept an
upload for `audit --format sarif`. `check_output` is called by the CLI runners (clirun.run,
limits.run_limited) on every run, so no test can produce a JSON document that goes unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from reconstruct import schemas
from tests.support.paths import REPO

SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
# (command, format) → the schema of its stdout; "lines:" — one document per line (JSON lines).
OUTPUTS = {
    ("show", "json"): "show",
    ("show", "jsonl"): "lines:show",
    ("ls", "--json"): "lines:ls",
    ("compare", "json"): "compare",
    ("verify", "json"): "verify",
    ("audit", "json"): "audit",
    ("audit", "sarif"): "sarif",
    ("files", "json"): "files",
    ("files", "jsonl"): "lines:files-jsonl",
    ("base", "--json"): "base",
}


@cache
def validator(name: str) -> Validator:
    """The validator of a shipped schema (`sarif`: the OASIS one), built once per test run."""
    if name == "sarif":
        schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
        return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    return Draft202012Validator(
        schemas.load(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def check(name: str, document: Any) -> None:
    """`document` is valid against schema `name`; else an AssertionError naming where not."""
    error = best_match(validator(name).iter_errors(document))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(the document)"
        raise AssertionError(f"not a valid {name} document at {where}: {error.message[:500]}")
    if name == "sarif":
        check_github(document)


def check_output(args: Sequence[str], out: str, code: int) -> None:
    """The stdout of `reconstruct ARGS`, checked when the arguments ask for a JSON output and
    the command answered (exit 0, or 1 for a difference, a mismatch or a failing threshold)."""
    name = output_schema(args)
    if name is None or code not in (0, 1):
        return
    if name.startswith("lines:"):
        for line in out.splitlines():
            check(name.removeprefix("lines:"), json.loads(line))
    else:
        check(name, json.loads(out))


def output_schema(args: Sequence[str]) -> str | None:
    """Which schema the output of `reconstruct ARGS` follows; None for text and help."""
    args = [str(arg) for arg in args]
    if not args or "--help" in args:
        return None
    command, options = args[0], args[1:]
    for position, option in enumerate(options):
        if option in ("--format", "-f") and position + 1 < len(options):
            wanted = options[position + 1]
        elif option.startswith("--format="):
            wanted = option.removeprefix("--format=")
        elif option == "--json":
            wanted = option
        else:
            continue
        return OUTPUTS.get((command, wanted))
    return None


# --- GitHub code scanning ------------------------------------------------------------------------
# What "SARIF support for code scanning" (docs.github.com) lists as required for an upload to be
# accepted and turned into alerts, beyond the OASIS schema.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def check_github(log: dict[str, Any]) -> None:
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert driver.get("name"), "runs[].tool.driver.name is required"
        rules = {rule["id"]: rule for rule in driver.get("rules", [])}
        for rule in rules.values():
            for key in ("shortDescription", "fullDescription", "help"):
                assert rule.get(key, {}).get("text"), (rule["id"], key)
            severity = rule.get("properties", {}).get("security-severity")
            assert severity is None or 0.0 <= float(severity) <= 10.0, (rule["id"], severity)
        fingerprints = set()
        for result in run.get("results", []):
            assert result["ruleId"] in rules, result["ruleId"]
            assert result["message"].get("text"), result
            locations = result.get("locations", [])
            assert 1 <= len(locations) <= 10, result
            for location in locations:
                physical = location["physicalLocation"]
                uri = physical["artifactLocation"]["uri"]
                assert not _SCHEME.match(uri) and not uri.startswith("/"), uri  # relative
                assert ".." not in uri.split("/") and "." not in uri.split("/"), uri
                assert re.fullmatch(r"[!#-~]+", uri), uri  # percent-encoded, printable ASCII
                assert physical["region"]["startLine"] >= 1, physical
            prints = result.get("partialFingerprints", {})
            assert prints and all(isinstance(v, str) and v for v in prints.values()), result
            key = (result["ruleId"], locations[0]["physicalLocation"]["artifactLocation"]["uri"])
            assert (key, tuple(sorted(prints.items()))) not in fingerprints, ("twice", result)
            fingerprints.add((key, tuple(sorted(prints.items()))))

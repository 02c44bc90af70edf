"""The published JSON Schemas: valid, listed and printed by `reconstruct schema`, tied to what
the renderers write, strict enough to catch a wrong document; `--version` and completion."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

import reconstruct
from reconstruct import schemas
from reconstruct.audit import RULES, SEVERITIES
from reconstruct.contents import CHANGES
from reconstruct.contents import SCHEMA as FILES_SCHEMA
from reconstruct.render import auditreport, comparison, jsonout, verifyreport
from reconstruct.verify.report import Verdict
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import REPO, SAMPLE, SAMPLE_UPSTREAM
from tests.support.schemas import SARIF_SCHEMA, check, output_schema

FOLDER = Path(schemas.__file__).parent


def test_every_shipped_schema_is_a_valid_draft_2020_12_schema():
    assert sorted(p.name for p in FOLDER.glob("*.schema.json")) == sorted(
        f"{name}.schema.json" for name in schemas.NAMES
    )
    ids = set()
    for name in schemas.NAMES:
        schema = schemas.load(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://reconstruct.invalid/schemas/{name}/v1.json"
        assert schema["title"] and schema["description"]
        ids.add(schema["$id"])
    assert len(ids) == len(schemas.NAMES)


def test_the_vendored_sarif_schema_is_oasis_2_1_0_errata01():
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_schema_lists_every_name_and_prints_each_file_as_shipped():
    listing = run("schema")
    assert listing.code == 0 and listing.err == ""
    lines = listing.out.splitlines()
    assert [line.split()[0] for line in lines] == list(schemas.NAMES)
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # a name and a description
    for name in schemas.NAMES:
        printed = run("schema", name)
        assert printed.code == 0
        assert printed.out == (FOLDER / f"{name}.schema.json").read_text(encoding="utf-8")


def test_an_unknown_schema_is_a_one_line_error():
    assert_one_line_error(run("schema", "nope"))
    assert_one_line_error(run("schema", "show", "extra"))


def test_schema_ids_and_vocabularies_are_the_renderers():
    consts = {
        "show": jsonout.SCHEMA,
        "compare": comparison.SCHEMA,
        "verify": verifyreport.SCHEMA,
        "audit": auditreport.SCHEMA,
        "files": FILES_SCHEMA,
    }
    for name, schema_id in consts.items():
        schema = schemas.load(name)
        document = schema["$defs"]["document"] if name == "show" else schema
        assert document["properties"]["schema"] == {"const": schema_id}
        assert "version" in document["required"]
    audit = schemas.load("audit")["$defs"]["finding"]["properties"]
    assert audit["severity"]["enum"] == list(SEVERITIES)
    validator = Draft202012Validator(audit["rule"])
    assert all(validator.is_valid(rule) for rule in RULES)
    verify = schemas.load("verify")["$defs"]["check"]["properties"]
    assert verify["verdict"]["enum"] == [v.value for v in Verdict]
    files = schemas.load("files")["$defs"]["entry"]["properties"]
    assert files["change"]["enum"] == list(CHANGES)


def test_every_json_document_names_the_version_that_wrote_it():
    version = reconstruct.__version__
    for args in (
        ("show", SAMPLE, "--format", "json"),
        ("compare", SAMPLE, SAMPLE_UPSTREAM, "--format", "json"),
        ("verify", SAMPLE, "--format", "json"),
        ("audit", SAMPLE, "--format", "json"),
        ("files", SAMPLE, "--format", "json"),
    ):
        result = run(*args)  # and checked against its schema by run()
        assert result.code in (0, 1), result
        document = json.loads(result.out)
        assert document["version"] == version, args
    sarif = json.loads(run("audit", SAMPLE, "--format", "sarif").out)
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == version


def test_which_outputs_are_checked():
    assert output_schema(["show", "x", "-f", "json"]) == "show"
    assert output_schema(["show", "x", "--format=jsonl", "--all"]) == "lines:show"
    assert output_schema(["ls", "--json", "x"]) == "lines:ls"
    assert output_schema(["audit", "x", "-f", "sarif"]) == "sarif"
    assert output_schema(["files", "x", "-f", "jsonl"]) == "lines:files-jsonl"
    assert output_schema(["base", "x", "--against", "y", "--json"]) == "base"
    assert output_schema(["show", "x", "-f", "table"]) is None
    assert output_schema(["show", "x", "-f", "json", "--help"]) is None


# --- the validation catches wrong documents -----------------------------------------------------


def _show_document() -> dict:
    document = json.loads(run("show", f"oci:{SAMPLE}", "--format", "json").out)
    check("show", document)
    return document


def _first_image(document: dict) -> dict:
    return next(e["image"] for e in document["root"]["entries"] if e["image"])


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: _first_image(d)["steps"][0].pop("instruction"),  # a step without instruction
        lambda d: _first_image(d)["steps"][0].update(empty_layer="yes"),  # a wrong type
        lambda d: _first_image(d)["layers"][0].update(extra=1),  # a key the schema does not know
        lambda d: d.update(schema="reconstruct/v2"),  # another schema
        lambda d: d.pop("version"),
        lambda d: d["root"].update(kind="image"),  # an index that says it is an image
    ],
)
def test_a_wrong_show_document_is_caught(spoil):
    document = _show_document()
    spoil(document)
    with pytest.raises(AssertionError, match="not a valid show document"):
        check("show", document)


def test_a_wrong_audit_document_and_a_wrong_sarif_log_are_caught():
    audit = json.loads(run("audit", SAMPLE, "--format", "json").out)
    wrong = copy.deepcopy(audit)
    wrong["images"][0]["findings"][0]["severity"] = "severe"
    with pytest.raises(AssertionError, match="not a valid audit document"):
        check("audit", wrong)
    log = json.loads(run("audit", SAMPLE, "--format", "sarif").out)
    wrong = copy.deepcopy(log)
    wrong["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    with pytest.raises(AssertionError, match="not a valid sarif document"):
        check("sarif", wrong)
    wrong = copy.deepcopy(log)
    location = wrong["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    location["artifactLocation"]["uri"] = "/var/lib/docker/image"  # valid SARIF, not for GitHub
    with pytest.raises(AssertionError, match="/var/lib/docker/image"):
        check("sarif", wrong)
    wrong = copy.deepcopy(log)
    del wrong["runs"][0]["results"][0]["partialFingerprints"]
    with pytest.raises(AssertionError):
        check("sarif", wrong)


# --- --version and shell completion -------------------------------------------------------------


def test_version():
    result = run("--version")
    assert (result.code, result.out, result.err) == (
        0,
        f"reconstruct {reconstruct.__version__}\n",
        "",
    )


def _completion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reconstruct", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_shell_completion():
    script = _completion({}, "--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "complete " in script.stdout and "_RECONSTRUCT_COMPLETE=complete_bash" in script.stdout
    commands = _completion(
        {"_RECONSTRUCT_COMPLETE": "complete_bash", "COMP_WORDS": "reconstruct s", "COMP_CWORD": "1"}
    )
    assert commands.returncode == 0, commands.stderr
    assert set(commands.stdout.split()) == {"show", "schema"}
    formats = _completion(
        {
            "_RECONSTRUCT_COMPLETE": "complete_bash",
            "COMP_WORDS": "reconstruct audit x --format ",
            "COMP_CWORD": "4",
        }
    )
    assert formats.stdout.split() == ["text", "json", "sarif"]

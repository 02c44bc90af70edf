"""Engine faults beyond the basic ones (issue 8): a daemon that stops in the middle of an export,
an API version newer than the client knows. Served by tests/support/fake_engine.py to the real
docker SDK.
"""

from __future__ import annotations

from tests.support.clirun import assert_one_line_error, run
from tests.support.fake_engine import SEED_TAG, FakeEngine


def test_an_export_cut_in_the_middle_is_one_line(tmp_path):
    with FakeEngine(tmp_path / "cut.sock", mode="cut") as server:
        result = run(
            "show", f"docker-daemon:{SEED_TAG}", "--host", server.url, "--exact", timeout=60
        )
    assert_one_line_error(result)
    assert "cannot export" in result.err


def test_an_api_version_newer_than_the_client_still_works(tmp_path):
    with FakeEngine(tmp_path / "new.sock", mode="new") as server:
        result = run(
            "show",
            f"docker-daemon:{SEED_TAG}",
            "--host",
            server.url,
            "--format",
            "json",
            timeout=60,
        )
    assert result.code == 0, result.err
    assert '"os_version": "10.0.17763.737"' in result.out

"""What a test needs from the machine, and what happens when it is missing.

On a root Debian machine the test command installs every tool the suite uses
(``scripts/install-engines.sh``), so a missing one there is a broken install step: the
test fails and says what is missing. Elsewhere (not root, not Debian) nothing can be
installed for the user, and the test is skipped with the same reason, which
``scripts/test.sh`` lists at the end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

INSTALL_HINT = "scripts/install-engines.sh installs it"


def installable_here() -> bool:
    """True where the test command can install what the suite needs: root on Debian."""
    return os.geteuid() == 0 and Path("/etc/debian_version").is_file()


def unavailable(reason: str) -> None:
    """Fail (root Debian: the install is broken) or skip (elsewhere) with ``reason``."""
    if installable_here():
        pytest.fail(f"{reason} ({INSTALL_HINT}; on a root Debian machine this is a failure)")
    pytest.skip(reason)


def need_tools(*tools: str) -> None:
    """Each of ``tools`` (a name on PATH or an absolute path) must exist."""
    missing = [t for t in tools if not (Path(t).is_file() if "/" in t else shutil.which(t))]
    if missing:
        unavailable(f"missing {', '.join(missing)}")

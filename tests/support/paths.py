"""Where test data lives: the repo's samples and the shared corpus beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SEED = SHARED / "seed" / "000_2f57b2f72d0c8d7d.txt"
SAMPLE = REPO / "samples" / "python-3-windowsservercore"
SAMPLE_UPSTREAM = REPO / "samples" / "python-3-windowsservercore.upstream.md"
FORMAT_DOC = SHARED / "docs" / "repo-info-format.md"


def need(path: Path) -> Path:
    """`path`, or skip the test cleanly when the shared data is not beside the repo."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared not checked out beside the repo)")
    return path


def corpus_files(*parts: str, pattern: str = "*") -> list[Path]:
    folder = CORPUS.joinpath(*parts)
    return sorted(folder.glob(pattern)) if folder.is_dir() else []

"""Where test data lives: the repo's samples and the shared corpus beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SEED = SHARED / "seed" / "000_2f57b2f72d0c8d7d.txt"
SAMPLE = REPO / "samples" / "python-3-windowsservercore"
SAMPLE_UPSTREAM = REPO / "samples" / "python-3-windowsservercore.upstream.md"
FORMAT_DOC = SHARED / "docs" / "repo-info-format.md"

# Corpus fixtures that more than one test file reads.
FIXTURES = CORPUS / "fixtures"
WINDOWS_CONFIG = (
    FIXTURES / "config" / "dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_config.json"
)
WINDOWS_MANIFEST = (
    FIXTURES
    / "manifest"
    / "dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_foreign-layers_manifest.json"
)
WINDOWS_INDEX = (
    FIXTURES / "index" / "dockerview_dotnet-framework-runtime-4.8_windows_manifest-list.json"
)
STEREOSCOPE_LAYOUT = FIXTURES / "oci-layout" / "stereoscope_multiplatform_buildkit_containerd-store"


def need(path: Path) -> Path:
    """`path`, or skip the test cleanly when the shared data is not beside the repo."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared not checked out beside the repo)")
    return path


def corpus_files(*parts: str, pattern: str = "*") -> list[Path]:
    folder = CORPUS.joinpath(*parts)
    return sorted(folder.glob(pattern)) if folder.is_dir() else []

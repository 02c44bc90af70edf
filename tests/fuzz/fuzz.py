#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris) of the readers: JSON metadata, archives, layouts, repo-info,
and the directory stores (a registry's storage, a Docker data root).

    python tests/fuzz/fuzz.py TARGET [libFuzzer options] [CORPUS_DIR]
    python tests/fuzz/fuzz.py json -max_total_time=60 /tmp/corpus-json

Targets: json, archive, layout, repo-info, registry-dir, docker-root, containerd,
containers-storage.

Each input goes through auto-detection, the source and every renderer, as `reconstruct show`
would. A SourceError, LookupError or ValueError is the CLI's one-line error (exit 2), so it is
an accepted outcome; anything else escaping is a crash, which libFuzzer reports and saves.
`tests/fuzz/run.sh` runs every target for a bounded time on a copy of the kept corpus.

The store targets (`registry-dir`, `docker-root`, `containerd`, `containers-storage`) decode the input into a folder tree (see
`StoreDecoder`): a valid base store (the empty input is one), its JSON documents mutated
structurally (digests and sizes that name other documents are recomputed, unless a mutation
replaced them), then file-system edits — raw or empty files, folders where files are expected,
symlinks inside the tree, out of it (to canary files and stores outside, whose names and
contents hold a per-process secret), to devices, dangling or looping, FIFOs, deep nesting,
extreme modification times. Beyond `show`, they also run what `ls`, `show --all`, `verify` and
`files` run, and fail when the secret appears in any output or accepted error message, or when an
output cannot be written as UTF-8. The trees go to RECONSTRUCT_FUZZ_SCRATCH (run.sh: a tmpfs
folder it removes), else to the work folder.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from itertools import islice
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from reconstruct import api as service
    from reconstruct.render import filesreport, listing, verifyreport
    from reconstruct.sources.base import SourceError

ACCEPTED = (SourceError, LookupError, ValueError)
FORMATS = ("repo-info", "dockerfile", "json", "table")
WORK = Path(tempfile.mkdtemp(prefix="reconstruct-fuzz-"))
atexit.register(shutil.rmtree, WORK, True)
os.environ.setdefault("RECONSTRUCT_FUZZ_SCRATCH", str(WORK))  # where stores.py writes trees
from tests.fuzz import rootstores, stores  # noqa: E402  (stores reads the scratch folder above)


def _exercise(spec: str, seen: list[str] | None = None) -> None:
    """`show SPEC` in every format; `seen` collects the outputs and the accepted error."""
    try:
        target = service.load(spec)
    except ACCEPTED as error:
        if seen is not None:
            seen.append(str(error))
        return
    for fmt in FORMATS:
        text = service.render(target, fmt, name="fuzz:1")
        if seen is not None:
            seen.append(text)


def fuzz_json(data: bytes) -> None:
    path = WORK / "input.json"
    path.write_bytes(data)
    _exercise(f"json:{path}")


def fuzz_archive(data: bytes) -> None:
    path = WORK / "input.tar"
    path.write_bytes(data)
    _exercise(f"docker-archive:{path}")


def fuzz_layout(data: bytes) -> None:
    """The input is index.json, then (after a NUL) one blob named by its own digest."""
    index, _, blob = data.partition(b"\x00")
    layout = WORK / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for old in blobs.iterdir():
        old.unlink()
    (layout / "index.json").write_bytes(index)
    (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    _exercise(f"oci:{layout}")


def fuzz_repo_info(data: bytes) -> None:
    path = WORK / "input.md"
    path.write_bytes(data)
    _exercise(f"repo-info:{path}")


def _check(texts: list[str]) -> None:
    for text in texts:
        for canary in stores.CANARIES:
            if canary in text:
                raise AssertionError(f"a canary from outside the store was shown: {text[:2000]}")
        text.encode("utf-8")  # what the CLI writes to standard output


def _exercise_store(spec: str) -> None:
    """What `show`, `ls`, `show --all` (the first few images), `verify` and `files` run on
    `spec`."""
    seen: list[str] = []
    _exercise(spec, seen)
    try:
        references = service.list_references(spec)
    except ACCEPTED as error:
        seen.append(str(error))
    else:
        seen += [listing.render_table(references), listing.render_jsonl(references)]
        try:
            for _, outcome in islice(service.load_all(spec), 8):
                if isinstance(outcome, Exception):
                    seen.append(str(outcome))
                    continue
                seen += [service.render(outcome, fmt) for fmt in ("repo-info", "jsonl")]
        except ACCEPTED as error:
            seen.append(str(error))
    try:
        report = service.verify(spec, workers=1)
    except ACCEPTED as error:
        seen.append(str(error))
    else:
        seen += [verifyreport.render_text(report), verifyreport.render_json(report)]
        seen.append(str(report.exit_code))
    try:
        images = service.files(spec, workers=1)
    except ACCEPTED as error:
        seen.append(str(error))
    else:
        seen += [filesreport.render_text(spec, images), filesreport.render_json(spec, images)]
    _check(seen)


def _fuzz_store(decoder: type[stores.StoreDecoder], data: bytes) -> None:
    spec, tree, mtimes = decoder(data).decode()
    stores.write_tree(tree, mtimes)
    _exercise_store(spec)


def fuzz_registry_dir(data: bytes) -> None:
    _fuzz_store(stores.RegistryDecoder, data)


def fuzz_docker_root(data: bytes) -> None:
    _fuzz_store(stores.DockerRootDecoder, data)


def fuzz_containerd(data: bytes) -> None:
    _fuzz_store(rootstores.ContainerdDecoder, data)


def fuzz_containers_storage(data: bytes) -> None:
    _fuzz_store(rootstores.ContainersStorageDecoder, data)


TARGETS = {
    "json": fuzz_json,
    "archive": fuzz_archive,
    "layout": fuzz_layout,
    "repo-info": fuzz_repo_info,
    "registry-dir": fuzz_registry_dir,
    "docker-root": fuzz_docker_root,
    "containerd": fuzz_containerd,
    "containers-storage": fuzz_containers_storage,
}
STORE_TARGETS = ("registry-dir", "docker-root", "containerd", "containers-storage")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options] [corpus]")
    name = sys.argv.pop(1)
    target = TARGETS[name]
    os.environ.setdefault("RECONSTRUCT_NO_PROGRESS", "1")
    if name in STORE_TARGETS:
        stores.OUTSIDE_PATHS.update(stores.make_outside())
        stores.OUTSIDE_PATHS.update(rootstores.make_outside_roots(stores.OUTSIDE_PATHS))
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write samples/python-3-windowsservercore/ from the facts of the upstream repo-info document.

The upstream document (`python-3-windowsservercore.upstream.md`, a copy of the project's seed)
lists, per Windows platform, the history (date and Dockerfile line), the layers (digest, size,
media type), Docker Version, CMD and SHELL. This script turns those facts back into the metadata a
registry would serve (an index, three manifests, three configs) and stores them as an OCI image
layout with no layer blobs. What the document does not carry is left out or said in README.md.

Run: python3 samples/make_sample.py   (rewrites the layout; deterministic)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "python-3-windowsservercore.upstream.md"
LAYOUT = HERE / "python-3-windowsservercore"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"


def parse_upstream(text: str) -> list[dict]:
    """One dict per `### ` section: platform, docker_version, cmd, shell, history, layers."""
    images = []
    for section in text.split("\n### ")[1:]:
        platform = section.split(" - ", 1)[1].split("\n", 1)[0]
        os_part, arch = platform.split("; ")
        image = {
            "os": os_part.split(" version ")[0],
            "os_version": os_part.split(" version ")[1],
            "architecture": arch,
            "docker_version": re.search(r"Docker Version: (.*)", section).group(1),
            "cmd": json.loads(re.search(r"Default Command: `(.*)`", section).group(1)),
            "shell": json.loads(re.search(r"`SHELL`: `(.*)`", section).group(1)),
            "history": [],
            "layers": [],
        }
        dockerfile = section.split("```dockerfile\n", 1)[1].split("\n```", 1)[0]
        for date, line in re.findall(r"^# (.+ GMT)\n(.*)$", dockerfile, flags=re.M):
            image["history"].append((rfc3339(date), line))
        for digest, size, mime in _layers(section.split("-\tLayers:\n", 1)[1]):
            image["layers"].append({"digest": digest, "size": int(size), "mediaType": mime})
        images.append(image)
    return images


def _layers(section: str) -> list[tuple[str, str, str]]:
    """(digest, size, media type) of each `\t-\t`sha256:…`` block of a Layers list."""
    found = []
    for block in section.split("\t-\t`")[1:]:
        digest = block.split("`", 1)[0]
        size = re.search(r"Size: .*?\((\d+) bytes\)", block) or re.search(
            r"Size: (\d+)\.0 B", block
        )
        mime = re.search(r"MIME: (.*)", block).group(1)
        found.append((digest, size.group(1), mime))
    return found


def rfc3339(imf_date: str) -> str:
    """`Wed, 11 Sep 2019 17:56:40 GMT` → `2019-09-11T17:56:40Z` (the seconds are all it keeps)."""
    _, day, month, year, clock, _ = imf_date.split()
    return f"{year}-{MONTHS.index(month) + 1:02d}-{day}T{clock}Z"


def created_by(line: str, shell: list[str]) -> str:
    """Undo the generator's rendering: what the Windows classic builder recorded."""
    prefix = " ".join(shell)
    if line.startswith(("RUN Apply image ", "RUN Install update ")):
        return line[len("RUN ") :]  # base layers have no shell prefix
    if line.startswith("RUN "):
        return f"{prefix} {line[len('RUN ') :]}"
    return f"{prefix} #(nop)  {line}"  # ENV, SHELL, CMD (the builder writes two spaces)


def blob(data: dict, blobs: Path) -> tuple[str, int]:
    raw = json.dumps(data, indent=2).encode() + b"\n"
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    (blobs / digest.split(":")[1]).write_bytes(raw)
    return digest, len(raw)


def main() -> None:
    images = parse_upstream(UPSTREAM.read_text())
    shutil.rmtree(LAYOUT, ignore_errors=True)
    blobs = LAYOUT / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    entries = []
    for image in images:
        config = {
            "architecture": image["architecture"],
            "os": image["os"],
            "os.version": image["os_version"],
            "created": image["history"][-1][0],
            "docker_version": image["docker_version"],
            "config": {"Cmd": image["cmd"], "Shell": image["shell"]},
            # repo-info documents do not publish diff_ids: left empty rather than invented
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [
                {"created": created, "created_by": created_by(line, image["shell"])}
                for created, line in image["history"]
            ],
        }
        config_digest, config_size = blob(config, blobs)
        layers = []
        for layer in image["layers"]:
            if layer["mediaType"] == FOREIGN:
                # Not in the document: the form MCR used for its foreign layer URLs.
                layer = dict(
                    layer,
                    urls=[
                        f"https://mcr.microsoft.com/v2/windows/servercore/blobs/{layer['digest']}"
                    ],
                )
            layers.append(layer)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config_size,
                "digest": config_digest,
            },
            "layers": layers,
        }
        digest, size = blob(manifest, blobs)
        entries.append(
            {
                "mediaType": manifest["mediaType"],
                "size": size,
                "digest": digest,
                "platform": {
                    "architecture": image["architecture"],
                    "os": image["os"],
                    "os.version": image["os_version"],
                },
            }
        )
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": entries,
    }
    digest, size = blob(index, blobs)
    (LAYOUT / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": index["mediaType"],
                "size": size,
                "digest": digest,
                "annotations": {
                    "io.containerd.image.name": "docker.io/library/python:3-windowsservercore",
                    "org.opencontainers.image.ref.name": "3-windowsservercore",
                },
            }
        ],
    }
    (LAYOUT / "index.json").write_text(json.dumps(top, indent=2) + "\n")
    print(f"wrote {LAYOUT.relative_to(HERE.parent)}: index {digest}")


if __name__ == "__main__":
    main()

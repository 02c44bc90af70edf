"""The docker-library/repo-info "remote" document, byte for byte (docs/repo-info-format.md)."""

from __future__ import annotations

from ..history import CURRENT_ERA, repo_info_text
from ..model import DOCKER_MANIFEST_V2, Image, Index, Section, Target
from ..refs import display_name
from ..text import generator_json, history_date, human_size, imf_fixdate, platform_string

PLATFORM_COUNT_ERA = 2022  # `-\tPlatforms: N` since 2022, `-\tPlatforms:` before
ATTESTATION_ERA = 2024  # attestation entries (unknown; unknown) listed since 2024
FOREIGN_LAST_MODIFIED_ERA = 2018  # 2016-08 to 2017-10: foreign layers had no Last Modified
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_MEDIA_TYPES = frozenset(
    {DOCKER_MANIFEST_V1, "application/vnd.docker.distribution.manifest.v1+prettyjws"}
)


def render(target: Target, name: str, tag: str, era: int = CURRENT_ERA) -> str:
    """The whole document for `name:tag` (name may carry `library/` or a registry: dropped)."""
    repo = display_name(name) or name
    ref = f"{repo}:{tag}"
    shown = [s for s in target.sections() if era >= ATTESTATION_ERA or not s.platform.is_unknown]
    root = target.root
    digest = root.digest if isinstance(root, Index) else root.manifest_digest
    out = [f"## `{ref}`", "", "```console", _pull(repo, digest, tag), "```", ""]
    if isinstance(root, Index) and root.media_type:
        out.append(f"-\tManifest MIME: `{root.media_type}`")
    count = f" {len(shown)}" if era >= PLATFORM_COUNT_ERA else ""
    out.append(f"-\tPlatforms:{count}")
    out.extend(f"\t-\t{platform_string(s.platform)}" for s in shown)
    for section in shown:
        out.extend(_section(ref, repo, section, era))
    index_warnings = _index_warnings(root) if isinstance(root, Index) else []
    if index_warnings:
        out.extend(["", "-\tWarnings (reconstruct):"])
        out.extend(f"\t-\t{warning}" for warning in index_warnings)
    return "\n".join(out) + "\n"


def _index_warnings(index: Index) -> list[str]:
    nested = [w for e in index.entries if e.index is not None for w in _index_warnings(e.index)]
    return index.warnings + nested


def _pull(repo: str, digest: str | None, tag: str) -> str:
    # Without a manifest (a bare config) there is no digest to pull by: show the tag instead.
    return f"$ docker pull {repo}@{digest}" if digest else f"$ docker pull {repo}:{tag}"


def _section(ref: str, repo: str, section: Section, era: int) -> list[str]:
    out = ["", f"### `{ref}` - {platform_string(section.platform)}"]
    if section.entry is not None:
        out += ["", "```console", f"$ docker pull {repo}@{section.entry.digest}", "```"]
    out.append("")
    image = section.image
    if image is None:
        out.append("-\tNot present in this source: only its index entry is.")
        return out
    if image.docker_version:
        out.append(f"-\tDocker Version: {image.docker_version}")
    if image.manifest_media_type in SCHEMA1_MEDIA_TYPES:
        out.append(f"-\tManifest MIME: `{DOCKER_MANIFEST_V1}`")
    elif image.manifest_digest or image.manifest_media_type:
        # The generator prints the schema 2 type for every manifest, OCI ones included.
        out.append(f"-\tManifest MIME: `{DOCKER_MANIFEST_V2}`")
    total = image.total_size
    shown_total = human_size(total) if total is not None else "unknown"
    out += [f"-\tTotal Size: **{shown_total}**  ", "\t(compressed transfer size, not on-disk size)"]
    if image.config_digest:
        out.append(f"-\tImage ID: `{image.config_digest}`")
    if image.entrypoint:
        out.append(f"-\tEntrypoint: `{generator_json(image.entrypoint)}`")
    if image.cmd is not None:
        out.append(f"-\tDefault Command: `{generator_json(image.cmd)}`")
    if image.shell is not None:
        out.append(f"-\t`SHELL`: `{generator_json(image.shell)}`")
    out += ["", "```dockerfile"]
    for step in image.steps:
        out.append(f"# {history_date(step.created)}")
        out.append(repo_info_text(step.created_by, image.shell, era))
    out += ["```", "", "-\tLayers:"]
    out.extend(_layers(image, era))
    if image.warnings or any(step.uncertain for step in image.steps):
        out += ["", "-\tWarnings (reconstruct):"]
        out.extend(f"\t-\t{warning}" for warning in image.warnings)
        out.extend(
            f"\t-\tstep {number}: {step.uncertain}"
            for number, step in enumerate(image.steps, 1)
            if step.uncertain
        )
    return out


def _layers(image: Image, era: int) -> list[str]:
    out = []
    for layer in image.layers:
        if layer.digest:
            out.append(f"\t-\t`{layer.digest}`  ")
        else:  # no manifest: only the uncompressed digest is known
            out.append(f"\t-\t`{layer.diff_id}` (diff_id; compressed digest unknown)  ")
        if layer.last_modified and not (layer.foreign and era < FOREIGN_LAST_MODIFIED_ERA):
            out.append(f"\t\tLast Modified: {imf_fixdate(layer.last_modified)}  ")
        if layer.size is not None:
            out.append(f"\t\tSize: {human_size(layer.size)}  ")
        if layer.media_type:
            out.append(f"\t\tMIME: {layer.media_type}")
        else:
            # Unknown (an engine's classic store keeps no manifest): no empty `MIME: ` line.
            # The block then ends as generate-tag-details.pl ended every block (upstream's
            # only documents without MIME lines): its last line has no trailing break.
            out[-1] = out[-1].removesuffix("  ")
    return out

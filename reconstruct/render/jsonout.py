"""`--format json`: the whole model with stable keys (its JSON Schema, which the tests hold this
to: reconstruct/schemas/show.schema.json, `reconstruct schema show`)."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..generator_date import generator_date
from ..history import Instruction, image_instructions, repo_info_text
from ..model import Image, Index, IndexEntry, Layer, Platform, Step, Target
from ..text import parse_date, platform_string

SCHEMA = "reconstruct/v1"


def render(target: Target) -> str:
    return json.dumps(to_dict(target), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_line(target: Target) -> str:
    """One compact JSON object on one line (`--format jsonl`)."""
    return (
        json.dumps(to_dict(target), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        + "\n"
    )


def to_dict(target: Target) -> dict[str, Any]:
    ref = target.reference
    return {
        "schema": SCHEMA,
        "version": __version__,
        "reference": {"name": ref.name, "tag": ref.tag, "digest": ref.digest},
        "root": _root(target.root),
    }


def _root(root: Image | Index) -> dict[str, Any]:
    return _index(root) if isinstance(root, Index) else _image(root)


def _platform(platform: Platform | None) -> dict[str, Any] | None:
    if platform is None:
        return None
    return {
        "os": platform.os,
        "architecture": platform.architecture,
        "variant": platform.variant,
        "os_version": platform.os_version,
        "os_features": platform.os_features,
        "features": platform.features,
        "string": platform_string(platform),
    }


def _index(index: Index) -> dict[str, Any]:
    return {
        "kind": "index",
        "digest": index.digest,
        "media_type": index.media_type,
        "annotations": index.annotations,
        "entries": [_entry(entry) for entry in index.entries],
        "warnings": index.warnings,
    }


def _entry(entry: IndexEntry) -> dict[str, Any]:
    return {
        "digest": entry.digest,
        "media_type": entry.media_type,
        "size": entry.size,
        "platform": _platform(entry.platform),
        "annotations": entry.annotations,
        "present": entry.present,
        "image": _image(entry.image) if entry.image else None,
        "index": _index(entry.index) if entry.index else None,
    }


def _layer(layer: Layer | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {
        "digest": layer.digest,
        "size": layer.size,
        "media_type": layer.media_type,
        "urls": layer.urls,
        "diff_id": layer.diff_id,
        "uncompressed_size": layer.uncompressed_size,
        "last_modified": layer.last_modified.isoformat() if layer.last_modified else None,
        "foreign": layer.foreign,
        "annotations": layer.annotations,
    }


def _step(
    step: Step, instruction: Instruction, image: Image, layer_index: dict[int, int]
) -> dict[str, Any]:
    created = parse_date(step.created)
    date = generator_date(step.created)
    return {
        "created": step.created,
        "created_utc": created.isoformat().replace("+00:00", "Z") if created else None,
        "date": date.text,  # the `# …` line as the generator prints it
        "date_stand_in": date.stand_in,
        "created_by": step.created_by,
        "comment": step.comment,
        "author": step.author,
        "empty_layer": step.empty_layer,
        "uncertain": step.uncertain,
        "dockerfile": repo_info_text(step.created_by, image.shell),
        "instruction": {
            "keyword": instruction.keyword,
            "arguments": instruction.arguments,
            "build_args": instruction.build_args,
            "buildkit": instruction.buildkit,
            "windows_base": instruction.windows_base,
        },
        "layer_index": layer_index.get(id(step.layer)) if step.layer else None,
        "recovered": step.recovered,  # COPY/ADD: what its layer adds under the destination
        "recovered_count": step.recovered_count,
        "recovered_check": step.recovered_check,  # the recorded hash recomputed from them
    }


def _image(image: Image) -> dict[str, Any]:
    layer_index = {id(layer): position for position, layer in enumerate(image.layers)}
    return {
        "kind": "image",
        "manifest_digest": image.manifest_digest,
        "manifest_media_type": image.manifest_media_type,
        "manifest_size": image.manifest_size,
        "config_digest": image.config_digest,
        "config_media_type": image.config_media_type,
        "platform": _platform(image.platform),
        "docker_version": image.docker_version,
        "created": image.created,
        "author": image.author,
        "config": {
            "entrypoint": image.entrypoint,
            "cmd": image.cmd,
            "shell": image.shell,
            "env": image.env,
            "labels": image.labels,
            "user": image.user,
            "working_dir": image.working_dir,
            "exposed_ports": image.exposed_ports,
            "volumes": image.volumes,
        },
        "total_size": image.total_size,
        "diff_ids": image.diff_ids,
        "steps": [
            _step(step, instruction, image, layer_index)
            for step, instruction in zip(image.steps, image_instructions(image), strict=True)
        ],
        "layers": [_layer(layer) for layer in image.layers],
        "annotations": image.annotations,
        "warnings": image.warnings
        + [
            f"step {n}: {step.uncertain}" for n, step in enumerate(image.steps, 1) if step.uncertain
        ],
    }

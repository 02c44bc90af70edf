"""Comparing two models, whatever their sources: per platform, then steps, then layers.

Steps are aligned in order (difflib on normalized instructions: steps repeat and timestamps are
not monotonic, so never a set comparison). A field one side cannot know (None) is `unknown`,
never a difference.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..history import image_instructions, parse_instruction
from ..history.normalize import key
from ..model import BASE_NAME_ANNOTATION, Image, Index, Platform, Target
from ..text import parse_date, platform_string

EQUAL, DIFFER, UNKNOWN = "equal", "differ", "unknown"


@dataclass
class Field:
    name: str
    status: str
    a: Any = None
    b: Any = None


@dataclass
class Pair:
    """Two aligned steps or layers; an index is None on the side that lacks it."""

    status: str  # matched, differing, only_a, only_b, base
    a_index: int | None
    b_index: int | None
    a: str | None = None
    b: str | None = None
    fields: list[Field] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return self.status in ("differing", "only_a", "only_b") or any(
            f.status == DIFFER for f in self.fields
        )


@dataclass
class PlatformComparison:
    platform_a: str | None
    platform_b: str | None
    fields: list[Field] = field(default_factory=list)
    steps: list[Pair] = field(default_factory=list)
    layers: list[Pair] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        if self.platform_a is None or self.platform_b is None:
            return True
        return (
            any(f.status == DIFFER for f in self.fields)
            or any(p.differs for p in self.steps)
            or any(p.differs for p in self.layers)
        )


@dataclass
class Comparison:
    fields: list[Field] = field(default_factory=list)
    platforms: list[PlatformComparison] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return any(f.status == DIFFER for f in self.fields) or any(
            p.differs for p in self.platforms
        )


def compare_field(name: str, a: Any, b: Any) -> Field:
    if a is None or b is None:
        return Field(name, UNKNOWN, a, b)
    return Field(name, EQUAL if a == b else DIFFER, a, b)


def _is_dockerfile(target: Target) -> bool:
    root = target.root
    return (
        isinstance(root, Image)
        and BASE_NAME_ANNOTATION in root.annotations
        and root.config_digest is None
    )


def _images(target: Target) -> list[tuple[Platform, Image | None]]:
    return [(s.platform, s.image) for s in target.sections()]


def _family(platform: Platform) -> tuple:
    version = ".".join((platform.os_version or "").split(".")[:3])
    return (platform.os or "linux", platform.architecture or "amd64", platform.variant, version)


def compare(a: Target, b: Target) -> Comparison:
    result = Comparison()
    if not (_is_dockerfile(a) or _is_dockerfile(b)):
        result.fields.append(compare_field("digest", _root_digest(a.root), _root_digest(b.root)))
    left, right = _images(a), _images(b)
    if _is_dockerfile(a) or _is_dockerfile(b):
        # A Dockerfile has no platform: it is compared with every image of the other side.
        file_side, other = (left, right) if _is_dockerfile(a) else (right, left)
        ((_, dockerfile),) = file_side
        for platform, image in other:
            pair = (dockerfile, image) if _is_dockerfile(a) else (image, dockerfile)
            names = (
                ("Dockerfile", platform_string(platform))
                if _is_dockerfile(a)
                else (platform_string(platform), "Dockerfile")
            )
            result.platforms.append(
                _compare_images(*pair, *names, dockerfile_side="a" if _is_dockerfile(a) else "b")
            )
        return result
    unmatched_b = list(range(len(right)))
    pairs: list[tuple[int | None, int | None]] = []
    for matcher in (platform_string, _family):
        for i, (platform, _) in enumerate(left):
            if any(p[0] == i for p in pairs):
                continue
            hit = next((j for j in unmatched_b if matcher(right[j][0]) == matcher(platform)), None)
            if hit is not None:
                unmatched_b.remove(hit)
                pairs.append((i, hit))
    paired_a = {i for i, _ in pairs}
    pairs += [(i, None) for i in range(len(left)) if i not in paired_a]
    pairs += [(None, j) for j in unmatched_b]
    pairs.sort(key=lambda p: p[0] if p[0] is not None else len(left) + (p[1] or 0))
    for i, j in pairs:
        pa = platform_string(left[i][0]) if i is not None else None
        pb = platform_string(right[j][0]) if j is not None else None
        ia = left[i][1] if i is not None else None
        ib = right[j][1] if j is not None else None
        result.platforms.append(_compare_images(ia, ib, pa, pb))
    return result


def _root_digest(root: Image | Index) -> str | None:
    return root.digest if isinstance(root, Index) else root.manifest_digest


def _compare_images(
    a: Image | None,
    b: Image | None,
    platform_a: str | None,
    platform_b: str | None,
    dockerfile_side: str | None = None,
) -> PlatformComparison:
    result = PlatformComparison(platform_a, platform_b)
    if a is None or b is None:
        if platform_a is not None and platform_b is not None:
            result.fields.append(Field("present", UNKNOWN, a is not None, b is not None))
        return result
    if dockerfile_side is None and platform_a != platform_b:
        result.fields.append(Field("platform", DIFFER, platform_a, platform_b))
    if dockerfile_side is None:
        for name, getter in (
            ("manifest digest", lambda i: i.manifest_digest),
            ("Image ID", lambda i: i.config_digest),
            ("Docker Version", lambda i: i.docker_version),
            ("Entrypoint", lambda i: (i.entrypoint or []) if _knows_config(i) else None),
            ("Default Command", lambda i: (i.cmd or []) if _knows_config(i) else None),
            ("SHELL", lambda i: (i.shell or []) if _knows_config(i) else None),
            ("Total Size", lambda i: i.total_size),
        ):
            result.fields.append(compare_field(name, getter(a), getter(b)))
    result.steps = _align_steps(a, b, dockerfile_side)
    if dockerfile_side is None:
        result.layers = _align_layers(a, b)
    return result


def _knows_config(image: Image) -> bool:
    """An absent Cmd means "none" only where the config (or a document of it) was read."""
    return image.config_digest is not None or bool(image.steps)


def _step_keys(image: Image) -> list[str]:
    return [key(instruction, image.shell) for instruction in image_instructions(image)]


def _unexpanded_keys(dockerfile: Image, keys: list[str], other: list[str]) -> list[str]:
    """A Dockerfile step's unexpanded form where only that one occurs in the image (buildah)."""
    present = set(other)
    chosen = list(keys)
    for number, step in enumerate(dockerfile.steps):
        if step.comment and keys[number] not in present:
            raw = key(parse_instruction(step.comment), dockerfile.shell)
            if raw in present:
                chosen[number] = raw
    return chosen


def _align_steps(a: Image, b: Image, dockerfile_side: str | None) -> list[Pair]:
    keys_a, keys_b = _step_keys(a), _step_keys(b)
    if dockerfile_side == "a":
        keys_a = _unexpanded_keys(a, keys_a, keys_b)
    elif dockerfile_side == "b":
        keys_b = _unexpanded_keys(b, keys_b, keys_a)
    pairs: list[Pair] = []
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                pairs.append(Pair("matched", i, j, keys_a[i], keys_b[j], _step_fields(a, b, i, j)))
            continue
        # In a replaced block, pair the tails (a changed line sits where its original was);
        # what is left over exists on one side only.
        common = min(a1 - a0, b1 - b0) if tag == "replace" else 0
        pairs += [Pair("only_a", i, None, keys_a[i]) for i in range(a0, a1 - common)]
        pairs += [Pair("only_b", None, j, None, keys_b[j]) for j in range(b0, b1 - common)]
        for i, j in zip(range(a1 - common, a1), range(b1 - common, b1), strict=True):
            pairs.append(Pair("differing", i, j, keys_a[i], keys_b[j], _step_fields(a, b, i, j)))
    if dockerfile_side is not None:
        _mark_base(pairs, image_side="b" if dockerfile_side == "a" else "a")
    return pairs


def _mark_base(pairs: list[Pair], image_side: str) -> None:
    """Image steps before the Dockerfile's first instruction belong to the base image."""
    only = "only_a" if image_side == "a" else "only_b"
    for pair in pairs:
        if pair.status != only:
            break
        pair.status = "base"


def _step_fields(a: Image, b: Image, i: int, j: int) -> list[Field]:
    created_a, created_b = parse_date(a.steps[i].created), parse_date(b.steps[j].created)
    seconds = [int(d.timestamp()) if d else None for d in (created_a, created_b)]
    field_ = compare_field("created", *seconds)
    field_.a, field_.b = a.steps[i].created, b.steps[j].created
    return [field_]


def _align_layers(a: Image, b: Image) -> list[Pair]:
    digests_a = [layer.digest or layer.diff_id or f"?{n}" for n, layer in enumerate(a.layers)]
    digests_b = [layer.digest or layer.diff_id or f"?{n}" for n, layer in enumerate(b.layers)]
    pairs: list[Pair] = []
    if not any(layer.digest for layer in a.layers) or not any(layer.digest for layer in b.layers):
        # One side knows no compressed digest (an engine, a bare config): compare by position.
        opcodes = [("replace", 0, len(digests_a), 0, len(digests_b))]
    else:
        opcodes = difflib.SequenceMatcher(a=digests_a, b=digests_b, autojunk=False).get_opcodes()
    for tag, a0, a1, b0, b1 in opcodes:
        for offset in range(max(a1 - a0, b1 - b0)):
            i = a0 + offset if a0 + offset < a1 else None
            j = b0 + offset if b0 + offset < b1 else None
            if i is None or j is None:
                status = "only_a" if j is None else "only_b"
                pairs.append(
                    Pair(
                        status,
                        i,
                        j,
                        digests_a[i] if i is not None else None,
                        digests_b[j] if j is not None else None,
                    )
                )
                continue
            la, lb = a.layers[i], b.layers[j]
            fields = [
                compare_field("digest", la.digest, lb.digest),
                compare_field("diff_id", la.diff_id, lb.diff_id),
                compare_field("size", la.size, lb.size),
                compare_field("media type", la.media_type, lb.media_type),
                compare_field(
                    "foreign",
                    la.foreign if la.media_type else None,
                    lb.foreign if lb.media_type else None,
                ),
                compare_field("last modified", la.last_modified, lb.last_modified),
            ]
            status = (
                "matched"
                if tag == "equal" or not any(f.status == DIFFER for f in fields)
                else "differing"
            )
            pairs.append(Pair(status, i, j, digests_a[i], digests_b[j], fields))
    return pairs

"""`--platform os/arch[/variant][:os.version]`: choosing entries of an index."""

from __future__ import annotations

from dataclasses import replace

from .model import Image, Index, IndexEntry, Platform, Target


def parse_platform(spec: str) -> Platform:
    """`linux/arm64/v8`, `windows/amd64:10.0.17763.737`; a missing part matches anything."""
    spec, _, os_version = spec.partition(":")
    parts = spec.split("/")
    if not spec or len(parts) > 3 or not all(parts):
        raise ValueError(f"bad platform {spec!r}: expected os/arch[/variant][:os.version]")
    return Platform(
        os=parts[0],
        architecture=parts[1] if len(parts) > 1 else None,
        variant=parts[2] if len(parts) > 2 else None,
        os_version=os_version or None,
    )


def platform_matches(wanted: Platform, actual: Platform | None) -> bool:
    actual = actual or Platform()
    for field in ("os", "architecture", "variant"):
        if getattr(wanted, field) and getattr(wanted, field) != getattr(actual, field):
            return False
    version = wanted.os_version
    return not (version and not (actual.os_version or "").startswith(version))


def select_platform(target: Target, wanted: Platform) -> Target:
    """The target with only the index entries (or the image) of the wanted platform."""
    if isinstance(target.root, Image):
        # An image that states no platform (a Dockerfile) is not excluded by one.
        known = target.root.platform.os is not None or target.root.platform.architecture is not None
        if known and not platform_matches(wanted, target.root.platform):
            raise LookupError("the image is not of the requested platform")
        return target
    root = _filter(target.root, wanted)
    if not root.entries:
        raise LookupError("no entry of the index has the requested platform")
    return replace(target, root=root)


def _filter(index: Index, wanted: Platform) -> Index:
    kept: list[IndexEntry] = []
    for entry in index.entries:
        if entry.index is not None:
            nested = _filter(entry.index, wanted)
            if nested.entries:
                kept.append(replace(entry, index=nested))
        elif platform_matches(
            wanted, entry.platform or (entry.image.platform if entry.image else None)
        ):
            kept.append(entry)
    return replace(index, entries=kept)

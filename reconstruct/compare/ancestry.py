"""Which image another one starts from: the longest common prefix of steps and layers.

A candidate is a base when its whole history is a prefix of the image's (normalized
instructions, in order) and, where both sides know them, its layers are a prefix too. For
Windows images the base OS build is also read from the `Apply image` / `Install update` steps and
os.version.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..history import image_instructions
from ..history.normalize import key
from ..model import Image, Platform, Target
from ..text import platform_string


@dataclass
class BaseMatch:
    candidate: str  # what the user named, and the tag within it
    platform: str
    common_steps: int
    candidate_steps: int
    common_layers: int
    candidate_layers: int
    layers_known: bool  # both sides know layer digests (or diff_ids)

    @property
    def is_base(self) -> bool:
        steps_ok = self.candidate_steps > 0 and self.common_steps == self.candidate_steps
        layers_ok = not self.layers_known or self.common_layers == self.candidate_layers
        return steps_ok and layers_ok


@dataclass
class WindowsBase:
    os_version: str | None
    steps: list[str]  # the Apply image / Install update lines


def _keys(image: Image) -> list[str]:
    return [key(instruction, image.shell) for instruction in image_instructions(image)]


def _layer_ids(image: Image) -> list[str | None]:
    return [layer.digest or layer.diff_id for layer in image.layers]


def _common_prefix(left: list, right: list) -> int:
    count = 0
    for a, b in zip(left, right, strict=False):
        if a is None or a != b:
            break
        count += 1
    return count


@dataclass
class _Prepared:
    """One image of a candidate, its keys and layer ids computed once."""

    platform: str
    keys: list[str]
    layers: list[str | None]


def _os_arch(platform: Platform) -> tuple[str, str]:
    return platform.os or "linux", platform.architecture or "amd64"


Prepared = dict[tuple[str, str], list[_Prepared]]


def prepare(candidate: Target) -> Prepared:
    """A candidate's images grouped by os/architecture, keys and layer ids computed once:
    `match` runs once per image of the other side, and computing them per pair made `base` of
    two documents of a thousand images each take most of a minute."""
    found: Prepared = {}
    for section in candidate.sections():
        if section.image is not None:
            found.setdefault(_os_arch(section.platform), []).append(
                _Prepared(
                    platform_string(section.platform),
                    _keys(section.image),
                    _layer_ids(section.image),
                )
            )
    return found


def match(image: Image, platform: Platform, candidate: Prepared, label: str) -> BaseMatch | None:
    """How much of a candidate (`prepare`d) starts `image`: its best image of the same
    os/arch, or None."""
    best = None
    keys = _keys(image)
    layers_a = _layer_ids(image)
    for other in candidate.get(_os_arch(platform), []):
        layers_b = other.layers
        known = bool(layers_b) and all(layers_a) and all(layers_b)
        found = BaseMatch(
            candidate=label,
            platform=other.platform,
            common_steps=_common_prefix(keys, other.keys),
            candidate_steps=len(other.keys),
            common_layers=_common_prefix(layers_a, layers_b) if known else 0,
            candidate_layers=len(layers_b),
            layers_known=known,
        )
        if best is None or _order(found) <= _order(best):  # as rank: the later of equals
            best = found
    return best


def rank(matches: list[BaseMatch]) -> list[BaseMatch]:
    """Bases first, the one covering most of the image first."""
    return sorted(matches, key=_order)


def _order(m: BaseMatch) -> tuple:
    return (not m.is_base, -m.common_steps, -m.common_layers, m.candidate)


def windows_base(image: Image) -> WindowsBase | None:
    steps = [
        f"{instruction.keyword} {instruction.arguments}"
        for instruction in image_instructions(image)
        if instruction.windows_base
    ]
    if image.platform.os != "windows" and not steps:
        return None
    return WindowsBase(image.platform.os_version, steps)

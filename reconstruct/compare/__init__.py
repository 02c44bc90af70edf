"""Comparing two models, whatever their sources: per platform, then steps, then layers.

Steps are aligned in order (difflib on normalized instructions: steps repeat and timestamps are
not monotonic, so never a set comparison). A field one side cannot know (None) is `unknown`,
never a difference.

Alignment is bounded by the inputs' size, however hostile. The common end of the two lists
(and their common start, except against a Dockerfile, whose first instruction follows the base
image's steps) is paired first, in one pass; difflib aligns only what is left, and is stopped
once one comparison, all its images together, has made ALIGNMENT_BUDGET element comparisons
(difflib's worst case grows with the cube of the lists' length: 2,000 repeated steps against
2,000 alternating ones take it minutes). What is left then is paired by position, as difflib
pairs a replaced block, equal keys `matched` and the rest `differing` or on one side only, and
the platform's `notes` say so: the result still says whether, and where, the images differ;
only the pairing inside that stretch is no longer the closest one. Real images never get there:
their histories are a few hundred steps and align in well under a million comparisons.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..history import image_instructions, parse_instruction
from ..history.normalize import key
from ..model import BASE_NAME_ANNOTATION, Image, Index, Platform, Target
from ..text import parse_date, platform_string

EQUAL, DIFFER, UNKNOWN = "equal", "differ", "unknown"
# Element comparisons difflib may make in one comparison (about a second of work); see above.
ALIGNMENT_BUDGET = 10_000_000


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
    notes: list[str] = field(default_factory=list)  # how the comparison was made, when it matters
    # On one side only, and only as an index entry: that side does not hold the image either
    # (a node pulls the platforms it runs), so nothing is known to differ.
    only_listed: bool = False

    @property
    def differs(self) -> bool:
        if self.platform_a is None or self.platform_b is None:
            return not self.only_listed
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
    budget = _Budget(ALIGNMENT_BUDGET)
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
                _compare_images(
                    *pair, *names, budget, dockerfile_side="a" if _is_dockerfile(a) else "b"
                )
            )
        return result
    for i, j in _pair_platforms(left, right):
        pa = platform_string(left[i][0]) if i is not None else None
        pb = platform_string(right[j][0]) if j is not None else None
        ia = left[i][1] if i is not None else None
        ib = right[j][1] if j is not None else None
        compared = _compare_images(ia, ib, pa, pb, budget)
        if ia is None and ib is None:
            compared.only_listed = True
            compared.notes.append(
                f"listed in {'A' if pb is None else 'B'}'s index, whose image is not held there"
            )
        result.platforms.append(compared)
    return result


def _pair_platforms(left: list, right: list) -> list[tuple[int | None, int | None]]:
    """Each image of A with the first unpaired image of B of the same platform string, then of
    the same family; in A's order, then B's unpaired ones. Linear (a document may hold
    thousands of images)."""
    paired: dict[int, int] = {}
    unmatched_b = dict.fromkeys(range(len(right)))  # ordered, O(1) removal
    for matcher in (platform_string, _family):
        waiting: dict[Any, deque[int]] = {}
        for j in unmatched_b:
            waiting.setdefault(matcher(right[j][0]), deque()).append(j)
        for i, (platform, _) in enumerate(left):
            if i in paired:
                continue
            candidates = waiting.get(matcher(platform))
            if candidates:
                hit = candidates.popleft()
                del unmatched_b[hit]
                paired[i] = hit
    pairs: list[tuple[int | None, int | None]] = [(i, paired.get(i)) for i in range(len(left))]
    return pairs + [(None, j) for j in unmatched_b]


def _root_digest(root: Image | Index) -> str | None:
    return root.digest if isinstance(root, Index) else root.manifest_digest


def _compare_images(
    a: Image | None,
    b: Image | None,
    platform_a: str | None,
    platform_b: str | None,
    budget: _Budget | None = None,
    dockerfile_side: str | None = None,
) -> PlatformComparison:
    result = PlatformComparison(platform_a, platform_b)
    budget = budget or _Budget(ALIGNMENT_BUDGET)
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
    result.steps = _align_steps(a, b, dockerfile_side, budget, result.notes)
    if dockerfile_side is None:
        result.layers = _align_layers(a, b, budget, result.notes)
        if _other_forms(result.layers, result.notes):
            for found in result.fields:
                if found.name == "Total Size" and found.status == DIFFER:
                    found.status = UNKNOWN  # sizes of different forms of the same layers
    return result


# What a layer pair may differ in when its content (diff_id) is the same: the form it is
# stored or distributed in (compressed or not, recompressed, the Docker or the OCI name).
FORM_FIELDS = ("digest", "size", "media type")


def _other_forms(pairs: list[Pair], notes: list[str]) -> bool:
    """Layers whose diff_ids agree but whose forms differ (a pull kept compressed against a
    save written uncompressed, Docker against OCI media types): their form fields are not
    compared, and a note says which layers. True when there were any."""
    positions = []
    for number, pair in enumerate(pairs, 1):
        fields = {f.name: f for f in pair.fields}
        diff_id = fields.get("diff_id")
        if diff_id is None or diff_id.status != EQUAL:
            continue
        differing = [fields[name] for name in FORM_FIELDS if fields[name].status == DIFFER]
        if not differing:
            continue
        for found in differing:
            found.status = UNKNOWN
        if pair.status == "differing" and not any(f.status == DIFFER for f in pair.fields):
            pair.status = "matched"
        positions.append(number)
    if positions:
        notes.append(
            f"layer{'s' if len(positions) > 1 else ''} {_ranges(positions)}: the same content "
            "(diff_id) in another form on each side (compressed or not, or the Docker and the "
            "OCI name of one form): digest, size and media type not compared"
        )
    return bool(positions)


def _ranges(numbers: list[int]) -> str:
    """`1-3, 5` for [1, 2, 3, 5]."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


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


def _align_steps(
    a: Image, b: Image, dockerfile_side: str | None, budget: _Budget, notes: list[str]
) -> list[Pair]:
    keys_a, keys_b = _step_keys(a), _step_keys(b)
    if dockerfile_side == "a":
        keys_a = _unexpanded_keys(a, keys_a, keys_b)
    elif dockerfile_side == "b":
        keys_b = _unexpanded_keys(b, keys_b, keys_a)
    pairs: list[Pair] = []
    # Against a Dockerfile, the image's first steps are its base's: no common start is paired.
    opcodes = _opcodes(keys_a, keys_b, budget, notes, "steps", start=dockerfile_side is None)
    for tag, a0, a1, b0, b1 in opcodes:
        if tag == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                # (one str for both sides: the pairs outlive B's keys)
                pairs.append(Pair("matched", i, j, keys_a[i], keys_a[i], _step_fields(a, b, i, j)))
            continue
        # In a replaced block, pair the tails (a changed line sits where its original was);
        # what is left over exists on one side only.
        common = min(a1 - a0, b1 - b0) if tag == "replace" else 0
        pairs += [Pair("only_a", i, None, keys_a[i]) for i in range(a0, a1 - common)]
        pairs += [Pair("only_b", None, j, None, keys_b[j]) for j in range(b0, b1 - common)]
        for i, j in zip(range(a1 - common, a1), range(b1 - common, b1), strict=True):
            # (equal keys only where the block was paired by position: difflib's have none)
            status = "matched" if keys_a[i] == keys_b[j] else "differing"
            pairs.append(Pair(status, i, j, keys_a[i], keys_b[j], _step_fields(a, b, i, j)))
    if dockerfile_side is not None:
        _mark_base(pairs, image_side="b" if dockerfile_side == "a" else "a")
    return pairs


class _OverBudget(Exception):
    pass


class _Budget:
    """The element comparisons difflib may still make in this comparison."""

    def __init__(self, left: int):
        self.left = left

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise _OverBudget


class _BoundedMatcher(difflib.SequenceMatcher):
    """difflib's matcher, charging the budget before each search for the longest match with
    exactly the iterations of its inner loop (for each `a[i]` of the range, the positions of
    that element in `b` below `bhi`), and stopped (_OverBudget) when they run out."""

    def __init__(self, a: list[str], b: list[str], budget: _Budget, autojunk: bool = False):
        self.budget = budget
        super().__init__(a=a, b=b, autojunk=autojunk)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        b2j, a, empty = self.b2j, self.a, ()
        self.budget.spend(
            ahi - alo + sum(bisect_left(b2j.get(a[i], empty), bhi) for i in range(alo, ahi))
        )
        return super().find_longest_match(alo, ahi, blo, bhi)


def bounded_opcodes(a: list[str], b: list[str], notes: list[str], what: str):
    """difflib's opcodes for `a` → `b` within one comparison's budget, for lines of text: with
    difflib's autojunk, as `difflib.unified_diff` (a line in more than 1% of a long text, a
    blank or a date, anchors nothing)."""
    return _opcodes(a, b, _Budget(ALIGNMENT_BUDGET), notes, what, autojunk=True)


def _opcodes(
    a: list[str],
    b: list[str],
    budget: _Budget,
    notes: list[str],
    what: str,
    start: bool = True,
    autojunk: bool = False,
) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes for `a` → `b`, within the budget (see the module's docstring)."""
    head = 0
    if start:
        limit = min(len(a), len(b))
        while head < limit and a[head] == b[head]:
            head += 1
    tail = 0
    limit = min(len(a), len(b)) - head
    while tail < limit and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a1, b1 = len(a) - tail, len(b) - tail
    opcodes: list[tuple[str, int, int, int, int]] = []
    if head:
        opcodes.append(("equal", 0, head, 0, head))
    if head < a1 or head < b1:
        try:
            matcher = _BoundedMatcher(a[head:a1], b[head:b1], budget, autojunk)
            for tag, i0, i1, j0, j1 in matcher.get_opcodes():
                opcodes.append((tag, head + i0, head + i1, head + j0, head + j1))
        except _OverBudget:  # raised before any opcode was given
            kind = "replace" if head < a1 and head < b1 else ("delete" if head < a1 else "insert")
            opcodes.append((kind, head, a1, head, b1))
            notes.append(
                f"{what}: {a1 - head} of A and {b1 - head} of B (after {head} equal at the start "
                f"and {tail} at the end) paired by position: aligning them by content would "
                f"take over {ALIGNMENT_BUDGET} comparisons"
            )
    if tail:
        opcodes.append(("equal", a1, len(a), b1, len(b)))
    return opcodes


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


def _align_layers(a: Image, b: Image, budget: _Budget, notes: list[str]) -> list[Pair]:
    # Aligned by content (diff_id) where both sides know every layer's, else by digest: the
    # same layers may be stored in different forms (compressed on one side, not the other).
    by_content = all(layer.diff_id for layer in a.layers + b.layers)
    digests_a = [layer.digest or layer.diff_id or f"?{n}" for n, layer in enumerate(a.layers)]
    digests_b = [layer.digest or layer.diff_id or f"?{n}" for n, layer in enumerate(b.layers)]
    keys_a = [layer.diff_id or "" for layer in a.layers] if by_content else digests_a
    keys_b = [layer.diff_id or "" for layer in b.layers] if by_content else digests_b
    pairs: list[Pair] = []
    if not by_content and (
        not any(layer.digest for layer in a.layers) or not any(layer.digest for layer in b.layers)
    ):
        # One side knows no compressed digest (an engine, a bare config): compare by position.
        opcodes = [("replace", 0, len(digests_a), 0, len(digests_b))]
    else:
        opcodes = _opcodes(keys_a, keys_b, budget, notes, "layers")
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

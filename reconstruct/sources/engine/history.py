"""Which history entries made a layer: the fast path of `docker-daemon:` (see engine.py).

The Engine API's history endpoint has no `empty_layer` flag, and dockerd reports size 0 both for a
step that made no layer and for a layer that holds no file data (`RUN mkdir /x`, `RUN touch /x`,
`COPY` of an empty file). `infer_layers` decides what is certain from the sizes, the number of
diff_ids and the instruction (ENV, CMD… make no layer; Podman's sizes are tar sizes, so its 0 is
never a layer), settles more with checkpoints (the layer counts of the classic builder's
intermediate images, which EngineSource looks up when they exist: each history entry's `Id` names
an image), guesses the rest from the instruction and marks every step whose layer mapping is a
guess (`Step.uncertain`).

Pure functions over what the engine said: no engine access here, so the inference is tested and
reasoned about on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...history import image_instructions
from ...model import Image, Platform, Step


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of `GET /images/{id}/history`, oldest first."""

    created: int | None
    created_by: str | None
    comment: str | None
    size: int
    id: str | None  # an image whose history ends here (classic builder); None for `<missing>`


@dataclass(frozen=True)
class Guess:
    """What the fast path decided for one history entry."""

    empty_layer: bool
    uncertain: str | None = None


# Instructions that never make a layer of their own: their history entry has size 0 unless a
# builder committed a layer anyway (Windows builders of 2016–2019 did, ~1 KB: never size 0).
_METADATA = frozenset(
    {"ENV", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "VOLUME", "USER", "ARG", "ONBUILD",
     "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}
)  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """What the Engine API says about an image's history, oldest entry first.

    `sizes`: the history's sizes (> 0: certainly a layer; 0: no layer, or a layer without file
    data; < 0: unknown). `metadata`: entries whose instruction makes no layer, so that size 0
    means none. `sizes_exact`: the engine reports a real layer's tar size (Podman: never 0), so
    size 0 always means no layer. `priors`: how likely each entry is a layer when the facts
    allow both (higher: more likely).
    """

    sizes: list[int]
    layer_count: int
    metadata: frozenset[int] = frozenset()
    priors: list[int] = field(default_factory=list)
    sizes_exact: bool = False


def evidence_from(
    entries: list[HistoryEntry],
    layer_count: int,
    shell: list[str] | None = None,
    windows: bool = False,
    sizes_exact: bool = False,
) -> Evidence:
    """Read each entry's instruction (as `history.image_instructions` parses it) into Evidence."""
    image = Image(
        platform=Platform(os="windows" if windows else None),
        shell=shell,
        steps=[Step(created_by=entry.created_by) for entry in entries],
    )
    metadata, priors = set(), []
    for i, (entry, instruction) in enumerate(zip(entries, image_instructions(image), strict=True)):
        if instruction.keyword in _METADATA:
            metadata.add(i)
        if instruction.windows_base or not entry.created_by:  # `Apply image`, `docker import`
            priors.append(3)
        elif instruction.keyword in ("COPY", "ADD"):  # a layer even when it copied empty files
            priors.append(2)
        elif instruction.keyword in _METADATA:
            priors.append(-2)
        elif instruction.keyword == "WORKDIR":  # a layer when it created the directory: usual
            priors.append(1)
        elif instruction.keyword == "RUN":
            priors.append(_run_prior(instruction.arguments))
        else:
            priors.append(0)
    return Evidence(
        [entry.size for entry in entries], layer_count, frozenset(metadata), priors, sizes_exact
    )


# RUN commands whose changes hold no file data (directories, empty files, links, owners) versus
# ones that change nothing at all. dockerd ≥ 1.13 drops a RUN's empty diff; older engines and
# BuildKit keep it, so the command is the only hint, and a weak one.
_CREATES_NO_DATA = re.compile(
    r"(^|[\s;&|(])(mkdir|touch|ln|chmod|chown|useradd|adduser|addgroup|groupadd)\s|>"
)
_CHANGES_NOTHING = re.compile(
    r"^\s*(true|:|exit 0|sleep \d+|pwd|id|whoami|env|printenv\b.*|uname\b.*|date|"
    r"(echo|ls|cat|which)\b[^>|]*|\S+ (-v|-V|--version))\s*$"
)


def _run_prior(command: str) -> int:
    if _CHANGES_NOTHING.match(command):
        return -1
    return 1 if _CREATES_NO_DATA.search(command) else 0


def infer_layers(evidence: Evidence, checkpoints: dict[int, int] | None = None) -> list[Guess]:
    """Decide empty_layer for each history entry, and mark every decision that is a guess.

    Facts: size > 0 is a layer; size 0 of a metadata instruction (or on an engine whose sizes are
    exact) is none; the layers add up to the diff_ids; `checkpoints[i] = n` says entries 0..i made
    n layers (an intermediate image's layer count). Every assignment that fits the facts is
    considered: an entry is certain when all of them agree on it (whether it made a layer, and
    which). Among the rest the priors choose, and the entries they decide are marked uncertain.
    When nothing fits, the metadata rule and then the checkpoints are dropped; when still nothing
    fits, the sizes are kept and every step is marked.
    """
    attempts = [(evidence.metadata, checkpoints or {}), (frozenset(), checkpoints or {})]
    if checkpoints:
        attempts += [(evidence.metadata, {}), (frozenset(), {})]
    for metadata, points in attempts:
        guesses = _solve(evidence, metadata, points)
        if guesses is not None:
            return guesses
    reason = (
        f"the engine's history sizes do not add up to the image's {evidence.layer_count} "
        "layers: whether this step made a layer is unknown"
    )
    return [Guess(size <= 0, reason) for size in evidence.sizes]


def _solve(
    evidence: Evidence, metadata: frozenset[int], checkpoints: dict[int, int]
) -> list[Guess] | None:
    sizes, layer_count = evidence.sizes, evidence.layer_count
    count = len(sizes)
    choices = [_choices(size, i in metadata, evidence.sizes_exact) for i, size in enumerate(sizes)]
    # reach[i]: layer counts possible after entries 0..i-1, counted from the start
    reach: list[set[int]] = [{0}]
    for i in range(count):
        options = {p + x for p in reach[i] for x in choices[i] if p + x <= layer_count}
        if i in checkpoints:
            options &= {checkpoints[i]}
        reach.append(options)
    # back[i]: of those, the counts from which the end (every layer) is still reachable
    back: list[set[int]] = [set() for _ in range(count + 1)]
    back[count] = {layer_count} & reach[count]
    for i in range(count - 1, -1, -1):
        back[i] = {p for p in reach[i] if any(p + x in back[i + 1] for x in choices[i])}
    if not back[0]:
        return None
    priors = evidence.priors or [0] * count
    chosen = _best_path(choices, priors, back)
    guesses = []
    for i in range(count):
        made = {x for p in back[i] for x in choices[i] if p + x in back[i + 1]}
        if len(made) > 1:
            what = "a layer" if chosen[i] else "no layer"
            why = (
                "the engine's history gives no layer sizes (on the containerd image store "
                "`Size` is the snapshot's)"
                if sizes[i] < 0
                else "the engine reports size 0 for no layer and for a layer without file data"
            )
            guesses.append(Guess(not chosen[i], f"{why}: guessed {what} from the instruction"))
        elif chosen[i] and len({p for p in back[i] if p + 1 in back[i + 1]}) > 1:
            guesses.append(Guess(False, "which layer this step made depends on uncertain steps"))
        else:
            guesses.append(Guess(not chosen[i]))
    return guesses


def _choices(size: int, metadata: bool, sizes_exact: bool) -> tuple[int, ...]:
    if size > 0:
        return (1,)
    if (size == 0 and (metadata or sizes_exact)) or (size < 0 and metadata):
        return (0,)  # a size unknown: a metadata instruction still makes no layer
    return (0, 1)


def _best_path(
    choices: list[tuple[int, ...]], priors: list[int], back: list[set[int]]
) -> list[int]:
    """The feasible assignment with the highest prior score (ties: the first one found)."""
    score: dict[int, tuple[int, list[int]]] = {0: (0, [])}
    for i, options in enumerate(choices):
        following: dict[int, tuple[int, list[int]]] = {}
        for p, (total, path) in score.items():
            for x in options:
                if p + x not in back[i + 1]:
                    continue
                candidate = (total + (priors[i] if x else 0), [*path, x])
                if p + x not in following or candidate[0] > following[p + x][0]:
                    following[p + x] = candidate
        score = following
    return next(iter(score.values()))[1]

"""A Comparison as a readable report or JSON (model in, text out)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from .. import __version__
from ..compare import DIFFER, UNKNOWN, Comparison, Field, PlatformComparison
from ..text import json_safe, terminal_safe

SCHEMA = "reconstruct/compare/v1"
STATUS_WORDS = {
    "matched": "matched",
    "differing": "differing",
    "only_a": "only in A",
    "only_b": "only in B",
    "base": "base image (not in the Dockerfile)",
    "rebuilt": "rebuilt (same instruction, another date)",
}


def render_json(comparison: Comparison, label_a: str, label_b: str) -> str:
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "a": label_a,
        "b": label_b,
        "equal": not comparison.differs,
        **asdict(comparison),
    }
    return json_safe(
        json.dumps(document, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=False) + "\n"
    )


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def field_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _field_line(field: Field, indent: str) -> str:
    if field.status == DIFFER:
        return f"{indent}{field.name}: differs\n{indent}  A: {field_text(field.a)}\n{indent}  B: {field_text(field.b)}"
    side = "A" if field.a is None else "B"
    return f"{indent}{field.name}: unknown ({side} cannot know it)"


def render_text(comparison: Comparison, label_a: str, label_b: str) -> str:
    out = [f"A: {label_a}", f"B: {label_b}"]
    out += [_field_line(f, "") for f in comparison.fields if f.status != "equal"]
    for platform in comparison.platforms:
        out.append("")
        out += _platform(platform)
    differing = count_differences(comparison)
    out += [
        "",
        f"result: {'differ' if comparison.differs else 'equal'}"
        + (f" ({differing} differences)" if differing else ""),
    ]
    return terminal_safe("\n".join(out) + "\n")


def _platform(platform: PlatformComparison) -> list[str]:
    notes = [f"  note: {note}" for note in platform.notes]
    if platform.platform_b is None:
        return [f"platform {platform.platform_a}: only in A", *notes]
    if platform.platform_a is None:
        return [f"platform {platform.platform_b}: only in B", *notes]
    title = (
        platform.platform_a
        if platform.platform_a == platform.platform_b
        else f"{platform.platform_a} ~ {platform.platform_b}"
    )
    out = [f"platform {title}" if title else "platform (Dockerfile)"]
    differing = [f for f in platform.fields if f.status == DIFFER]
    unknown = [f.name for f in platform.fields if f.status == UNKNOWN]
    out += [_field_line(f, "  ") for f in differing]
    if unknown:
        out.append("  unknown: " + ", ".join(unknown))
    out += [f"  note: {note}" for note in platform.notes]
    out.append("  steps: " + pair_summary(platform.steps))
    for pair in platform.steps:
        if pair.status == "matched" and not pair.differs:
            continue
        if pair.status == "base":
            continue
        status = "rebuilt" if pair.status == "matched" else pair.status
        out.append(f"    {STATUS_WORDS[status]}: " + _where(pair.a_index, pair.b_index))
        if pair.a is not None:
            out.append(f"      A: {pair.a[:200]}")
        if pair.b is not None:
            out.append(f"      B: {pair.b[:200]}")
        out += [_field_line(f, "      ") for f in pair.fields if f.status == DIFFER]
    if platform.layers:
        out.append("  layers: " + pair_summary(platform.layers))
        unknown_layers = sorted(
            {f.name for p in platform.layers for f in p.fields if f.status == UNKNOWN}
        )
        if unknown_layers:
            out.append("    not known to both sides: " + ", ".join(unknown_layers))
        for pair in platform.layers:
            if not pair.differs:
                continue
            status = "differing" if pair.status == "matched" else pair.status
            out.append(
                f"    {STATUS_WORDS[status]}: " + _where(pair.a_index, pair.b_index, "layer")
            )
            out += [_field_line(f, "      ") for f in pair.fields if f.status == DIFFER]
            if not pair.fields:
                out.append(f"      {pair.a or pair.b}")
    return out


def _where(i: int | None, j: int | None, what: str = "step") -> str:
    parts = []
    if i is not None:
        parts.append(f"A {what} {i + 1}")
    if j is not None:
        parts.append(f"B {what} {j + 1}")
    return ", ".join(parts)


def pair_summary(pairs: list) -> str:
    counts: dict[str, int] = {}
    for pair in pairs:
        status = "rebuilt" if pair.status == "matched" and pair.differs else pair.status
        counts[status] = counts.get(status, 0) + 1
    order = ["matched", "rebuilt", "differing", "only_a", "only_b", "base"]
    return ", ".join(f"{counts[s]} {STATUS_WORDS[s]}" for s in order if counts.get(s)) or "none"


def count_differences(comparison: Comparison) -> int:
    total = sum(f.status == DIFFER for f in comparison.fields)
    for platform in comparison.platforms:
        if platform.platform_a is None or platform.platform_b is None:
            total += platform.differs
            continue
        total += sum(f.status == DIFFER for f in platform.fields)
        total += sum(p.differs for p in platform.steps) + sum(p.differs for p in platform.layers)
    return total

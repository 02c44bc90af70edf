"""`files` reports: a listing per step for people (`tar -tv`'s columns with the change), JSON
(`reconstruct/files/v1`, audit's shape) and JSON lines (one object per entry)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from typing import Any

from .. import __version__
from ..contents import SCHEMA, Entry, ImageFiles, StepFiles
from ..text import human_size, json_safe, short_digest, terminal_safe

_TYPE_BITS = {
    "file": stat.S_IFREG,
    "sparse": stat.S_IFREG,
    "hardlink": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "fifo": stat.S_IFIFO,
    "chardev": stat.S_IFCHR,
    "blockdev": stat.S_IFBLK,
}
_MARK = {"added": "+", "changed": "~", "removed": "-", "opaque": "!"}


def mode_text(entry: Entry) -> str:
    """`-rwsr-xr-x` as `tar -tv` shows it (hard links as `h`); `?` where unknown."""
    if entry.mode is None:
        return "?" * 10
    text = stat.filemode(_TYPE_BITS.get(entry.type, 0) | entry.mode)
    return ("h" + text[1:]) if entry.type == "hardlink" else text


def render_text(source: str, images: list[ImageFiles]) -> str:
    lines = [f"files {source}"]
    for image in images:
        lines += ["", image.label + (f" [{image.platform}]" if image.platform else "")]
        for step in image.steps:
            lines.extend(_step_lines(step))
        lines.append(
            f"  hidden by later layers (overwritten or removed): {human_size(image.hidden_bytes)}"
        )
    return terminal_safe("\n".join(lines) + "\n")


def _step_lines(step: StepFiles) -> Iterator[str]:
    instruction = step.instruction.split("\n", 1)[0]
    if len(instruction) > 80:
        instruction = instruction[:79] + "…"
    if step.layer is None:
        yield f"  step {step.step}  {instruction}  (no layer)"
        return
    totals = step.totals
    counts = " ".join(f"{_MARK[c]}{totals[c]}" for c in ("added", "changed", "removed", "opaque"))
    yield f"  step {step.step}  {instruction}"
    yield f"    layer {short_digest(step.layer)}  {counts}  {human_size(totals['bytes'])}"
    if step.unreadable:
        yield f"    not listed: {step.unreadable}"
    if step.after_unreadable:
        yield "    (a lower layer could not be read: added/changed are relative to those read)"
    if step.unsafe_names:
        yield f"    {step.unsafe_names} entries with absolute or `..` names left out"
    for entry in step.entries:
        owner = "?/?" if entry.uid is None else f"{entry.uid}/{entry.gid}"
        link = f" -> {entry.link}" if entry.link and entry.type == "symlink" else ""
        link = f" link to {entry.link}" if entry.link and entry.type == "hardlink" else link
        yield (
            f"    {_MARK[entry.change]} {mode_text(entry)} {owner:>11} {entry.size:>12} "
            f"{entry.path}{link}"
        )


def _entry(entry: Entry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "type": entry.type,
        "mode": entry.mode,
        "uid": entry.uid,
        "gid": entry.gid,
        "size": entry.size,
        "link": entry.link,
        "change": entry.change,
    }


def _step(step: StepFiles) -> dict[str, Any]:
    return {
        "step": step.step,
        "instruction": step.instruction,
        "layer": step.layer,
        "entries": [_entry(entry) for entry in step.entries],
        "totals": step.totals if step.layer is not None else None,
        "unreadable": step.unreadable,
        "after_unreadable": step.after_unreadable,
        "unsafe_names": step.unsafe_names,
    }


def render_json(source: str, images: list[ImageFiles]) -> str:
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "source": source,
        "images": [
            {
                "label": image.label,
                "platform": image.platform,
                "hidden_bytes": image.hidden_bytes,
                "steps": [_step(step) for step in image.steps],
            }
            for image in images
        ],
    }
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def render_jsonl(source: str, images: list[ImageFiles]) -> Iterator[str]:
    """One object per entry (image label, platform, step, layer with it): for `jq` and `grep`."""
    for image in images:
        for step in image.steps:
            for entry in step.entries:
                record = {
                    "image": image.label,
                    "platform": image.platform,
                    "step": step.step,
                    "layer": step.layer,
                } | _entry(entry)
                yield json_safe(json.dumps(record, ensure_ascii=False) + "\n")

"""`--format table`: a row per history step (tabulate), one table per platform."""

from __future__ import annotations

from tabulate import tabulate

from ..history import repo_info_text
from ..model import Target
from ..text import human_size, parse_date, platform_string, short_digest, terminal_safe

WIDTH = 60


def render(target: Target, no_trunc: bool = False) -> str:
    blocks = []
    for section in target.sections():
        title = platform_string(section.platform)
        image = section.image
        if image is None:
            blocks.append(f"{title}: not present in this source\n")
            continue
        rows = []
        for step in image.steps:
            # escaped before it is cut and measured: the columns line up as shown
            text = terminal_safe(
                repo_info_text(step.created_by, image.shell).replace("\n", " ⏎ ").replace("\t", " ")
            )
            if not no_trunc and len(text) > WIDTH:
                text = text[: WIDTH - 1] + "…"
            created = parse_date(step.created)
            layer = step.layer
            if step.empty_layer or layer is None:
                digest, size, kind = "<empty>" if step.empty_layer else "<no layer>", "", ""
            else:
                digest = terminal_safe(short_digest(layer.digest or layer.diff_id))
                size = human_size(layer.size).split(" (")[0] if layer.size is not None else "?"
                # without a media type (an engine's fast path) foreign is not knowable
                kind = "foreign" if layer.foreign else "regular" if layer.media_type else "?"
            if step.uncertain:
                kind = (kind + " (uncertain)").strip()
            rows.append(
                (
                    created.strftime("%Y-%m-%d %H:%M:%S") if created else "?",
                    text,
                    digest,
                    size,
                    kind,
                )
            )
        table = tabulate(rows, headers=["CREATED", "INSTRUCTION", "LAYER", "SIZE", "KIND"])
        warnings = "".join(f"warning: {w}\n" for w in image.warnings)
        blocks.append(f"{title}\n{table}\n{warnings}")
    return "\n".join(blocks)

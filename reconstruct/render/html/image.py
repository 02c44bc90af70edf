"""Each image's section: its history as repo-info prints it, layers, labels and config."""

from __future__ import annotations

from ...history import image_instructions, repo_info_text
from ...model import Image, Layer, Section, Target
from ...text import history_date, platform_label, platform_string
from .chart import chart
from .markup import Markup, compact_size, digest_span, dl, el, mark, size_text, table, warnings_list


def reference_name(target: Target) -> str:
    reference = target.reference
    name = reference.name or "<none>"
    return f"{name}:{reference.tag}" if reference.tag else name


def anchor(number: int) -> str:
    return f"image-{number}"


def section_title(section: Section) -> str:
    return platform_label(section.platform) or platform_string(section.platform)


def image_section(number: int, section: Section, era: int) -> Markup:
    image = section.image
    assert image is not None
    facts = [
        ("Platform", platform_string(section.platform)),
        ("Manifest digest", digest_span(image.manifest_digest)),
        ("Image ID", digest_span(image.config_digest)),
        ("Created", image.created),
        ("Docker version", image.docker_version),
        ("Total size", f"{size_text(image.total_size)} (compressed transfer size)"),
        ("Entrypoint", _json(image.entrypoint)),
        ("Default command", _json(image.cmd)),
        ("Shell", _json(image.shell)),
        ("User", image.user),
        ("Working dir", image.working_dir),
    ]
    labels = image.labels or {}
    return el(
        "section",
        el("h3", f"History: {platform_string(section.platform)}"),
        dl(facts),
        _labels(labels) if labels else None,
        el("h4", f"Layer sizes ({len(image.layers)} layers)"),
        chart(image, f"c{number}"),
        el("h4", f"Reconstructed history ({len(image.steps)} steps)"),
        _history(image, era),
        warnings_list(
            [*image.warnings]
            + [
                f"step {n}: {step.uncertain}"
                for n, step in enumerate(image.steps, 1)
                if step.uncertain
            ]
        ),
        id=anchor(number),
    )


def _json(value: list[str] | None) -> Markup | None:
    import json

    if value is None:
        return None
    return el("code", json.dumps(value, ensure_ascii=False))


def _labels(labels: dict[str, str]) -> Markup:
    rows = [el("tr", el("td", el("code", k)), el("td", el("pre", v))) for k, v in labels.items()]
    return el(
        "details",
        el("summary", f"Labels ({len(labels)})"),
        el("table", el("tbody", rows)),
        open=True,
    )


def _history(image: Image, era: int) -> Markup:
    rows = []
    instructions = image_instructions(image)
    for number, (step, instruction) in enumerate(zip(image.steps, instructions, strict=True), 1):
        layer = step.layer
        marks = []
        if step.empty_layer:
            marks.append(mark("empty (no layer)", "empty"))
        if layer is not None and layer.foreign:
            marks.append(mark("foreign: Windows base layer, not distributed", "foreign"))
        elif instruction.windows_base:
            marks.append(mark("Windows base layer", "foreign"))
        if step.uncertain:
            marks.append(mark(f"uncertain: {step.uncertain}", "uncertain"))
        rows.append(
            el(
                "tr",
                el("td", number, class_="num"),
                el("td", history_date(step.created), class_="date"),
                el(
                    "td",
                    el("pre", repo_info_text(step.created_by, image.shell, era)),
                    el("div", "layer ", _layer_cell(layer), class_="layer")
                    if layer is not None
                    else None,
                ),
                el("td", _size_cell(layer.size if layer else None), class_="num"),
                el("td", marks),
            )
        )
    return table(
        (
            "#",
            "Date",
            "Instruction (as repo-info prints it) and its layer",
            "Layer size",
            "Notes",
        ),
        rows,
    )


def _size_cell(size: int | None) -> Markup | None:
    if size is None:
        return None
    return el("span", compact_size(size), el("br"), el("span", f"{size} bytes", class_="bytes"))


def _layer_cell(layer: Layer) -> Markup:
    if layer.digest:
        return digest_span(layer.digest) or Markup("")
    if layer.diff_id:
        return el("span", digest_span(layer.diff_id), el("span", " (diff_id)", class_="muted"))
    return el("span", "unknown", class_="muted")

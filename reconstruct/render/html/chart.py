"""The bar chart of an image's layer sizes, inline SVG (foreign Windows base layers hatched)."""

from __future__ import annotations

from ...model import Image
from ...text import platform_label
from .markup import Markup, compact_size, el, size_text, svg

_ROW = 20


_TOP = 30


_LABEL_WIDTH = 190


_BAR_WIDTH = 640


_WIDTH = 1000


_BAR_FILL = "#4a7fb5"


_FOREIGN_FILL = "#e08a1e"


def chart(image: Image, key: str) -> Markup:
    """One horizontal bar per layer, in manifest order, on a linear scale; foreign layers are
    hatched and drawn in another colour, and the legend says what that means."""
    layers = image.layers
    if not layers:
        return el("p", "No layers.", class_="muted")
    made_by = {id(step.layer): n for n, step in enumerate(image.steps, 1) if step.layer}
    largest = max((layer.size or 0 for layer in layers), default=0) or 1
    hatch = f"hatch-{key}"
    height = _TOP + _ROW * len(layers) + 8
    defs = svg(
        "defs",
        svg(
            "pattern",
            svg("rect", width="8", height="8", fill=_FOREIGN_FILL),
            svg("path", d="M0,8 L8,0", stroke="#7a3e00", **{"stroke-width": "2"}),
            id=hatch,
            patternUnits="userSpaceOnUse",
            width="8",
            height="8",
        ),
    )
    legend = [
        svg("rect", x="0", y="6", width="14", height="12", fill=_BAR_FILL),
        svg("text", "layer", x="20", y="16"),
        svg("rect", x="80", y="6", width="14", height="12", fill=f"url(#{hatch})"),
        svg(
            "text", "foreign (Windows base layer, not distributed with the image)", x="100", y="16"
        ),
        svg("text", "linear scale", x=str(_WIDTH), y="16", **{"text-anchor": "end"}),
    ]
    bars = []
    for position, layer in enumerate(layers, 1):
        y = _TOP + _ROW * (position - 1)
        step = made_by.get(id(layer))
        label = f"#{position}" + (f" step {step}" if step else "")
        digest = (layer.digest or layer.diff_id or "").split(":", 1)[-1][:12]
        size = layer.size
        width = 0 if not size else max(1, round(_BAR_WIDTH * size / largest))
        what = ("foreign layer " if layer.foreign else "layer ") + (layer.digest or "")
        title = f"{what}: {size_text(size)}" + (f", made by step {step}" if step else "")
        fill = f"url(#{hatch})" if layer.foreign else _BAR_FILL
        bars.append(
            svg(
                "g",
                svg("title", title),
                svg("text", label, x="0", y=str(y + 14)),
                svg("text", digest, x="88", y=str(y + 14), class_="mono"),
                svg(
                    "rect",
                    x=str(_LABEL_WIDTH),
                    y=str(y + 3),
                    width=str(width),
                    height=str(_ROW - 6),
                    fill=fill,
                    stroke="#7a3e00" if layer.foreign else None,
                )
                if width
                else None,
                svg(
                    "text",
                    (compact_size(size) if size is not None else "size unknown")
                    + (" foreign" if layer.foreign else ""),
                    x=str(_LABEL_WIDTH + width + 6),
                    y=str(y + 14),
                ),
            )
        )
    return svg(
        "svg",
        svg("title", f"Layer sizes of {platform_label(image.platform) or 'the image'}"),
        defs,
        svg("g", legend, **{"font-size": "12", "fill": "#1b1f24"}),
        svg("g", bars, **{"font-size": "12", "fill": "#1b1f24"}),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {_WIDTH} {height}",
        width=str(_WIDTH),
        height=str(height),
        role="img",
        class_="chart",
        **{"font-family": "Liberation Sans, DejaVu Sans, Arial, sans-serif"},
    )

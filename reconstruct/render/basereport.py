"""The `base` report: per platform, the candidates ranked (model in, text out)."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..text import json_safe, platform_string, terminal_safe


def render_text(report) -> str:
    out = []
    for section, matches, windows in report:
        out.append(f"platform {platform_string(section.platform)}")
        if windows is not None:
            out.append(f"  Windows base: os.version {windows.os_version or 'unknown'}")
            out += [f"    {line}" for line in windows.steps]
        bases = [m for m in matches if m.is_base]
        if bases:
            best = bases[0]
            layers = f", {best.common_layers} layers" if best.layers_known else ""
            out.append(f"  base: {best.candidate} ({best.common_steps} steps{layers})")
        else:
            out.append("  base: none of the candidates")
        for m in matches[:10]:
            verdict = "base" if m.is_base else "not a base"
            layers = f"; layers {m.common_layers}/{m.candidate_layers}" if m.layers_known else ""
            out.append(
                f"    {verdict}: {m.candidate} [{m.platform}]: steps {m.common_steps}/{m.candidate_steps}{layers}"
            )
        out.append("")
    return terminal_safe("\n".join(out))


def render_json(report) -> str:
    document = [
        {
            "platform": platform_string(section.platform),
            "windows_base": asdict(windows) if windows else None,
            "candidates": [dict(asdict(m), is_base=m.is_base) for m in matches],
        }
        for section, matches, windows in report
    ]
    return json_safe(json.dumps(document, indent=2, sort_keys=True) + "\n")

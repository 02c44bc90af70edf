"""What the commands do, as functions a library user can call too (the CLI only prints)."""

from __future__ import annotations

import json

from .history import CURRENT_ERA
from .model import Target
from .platforms import parse_platform, select_platform
from .refs import split_reference
from .sources import open_source


def load(spec: str, *, config: str | None = None, platform: str | None = None) -> Target:
    source, selector = open_source(spec, config=config)
    target = source.get(selector)
    if platform:
        target = select_platform(target, parse_platform(platform))
    return target


def render(
    target: Target,
    fmt: str,
    *,
    name: str | None = None,
    era: int | None = None,
    no_trunc: bool = False,
) -> str:
    era = era or target.era or CURRENT_ERA
    if fmt == "repo-info":
        from .render import repoinfo

        repo, tag = _name_and_tag(target, name)
        return repoinfo.render(target, repo, tag, era)
    if fmt == "dockerfile":
        from .render import dockerfile

        return dockerfile.render(target)
    if fmt == "json":
        from .render import jsonout

        return jsonout.render(target)
    if fmt == "table":
        from .render import table

        return table.render(target, no_trunc=no_trunc)
    raise ValueError(f"unknown format {fmt!r}")


def _name_and_tag(target: Target, override: str | None) -> tuple[str, str]:
    if override:
        name, tag = split_reference(override)
        if not name:
            raise ValueError(f"--name {override!r}: expected NAME[:TAG]")
        return name, tag or "latest"
    return target.reference.name or "<none>", target.reference.tag or "<none>"


def listing(spec: str, *, as_json: bool = False) -> str:
    source, _ = open_source(spec)
    refs = source.references()
    if as_json:
        return "".join(
            json.dumps(
                {"name": r.name, "tag": r.tag, "digest": r.digest, "selector": r.selector},
                sort_keys=True,
            )
            + "\n"
            for r in refs
        )
    from tabulate import tabulate

    rows = [(r.name or "<none>", r.tag or "<none>", r.digest or "", r.selector or "") for r in refs]
    return tabulate(rows, headers=["NAME", "TAG", "DIGEST", "SELECTOR"], tablefmt="plain") + "\n"

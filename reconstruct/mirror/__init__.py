"""`mirror`: every image and tag of a source written out as a docker-library/repo-info tree.

    OUTDIR/repos/<name>/remote/<tag>.md   the tag's remote document, as `show` prints it
    OUTDIR/repos/<name>/tag-details.md    upstream's concatenation (render/tagdetails.py)

Names lose their registry host and `library/`, as repo-info's do; images without a tag are
skipped with a note. A plain folder of archives and OCI layouts is one source per member.

How the work is split, and why:
- plan.py lists the references in this process; work.py has worker processes read and render
  them in chunks of one source. A worker opens the source itself from its spec, so only specs,
  selectors and the rendered bytes cross process boundaries, and a bounded number of chunks is
  in flight: memory does not grow with the store.
- This process alone writes (tree.py): each file is compared with what is there and replaced
  only when different, so a re-run writes nothing.
- tag-details.md is put together at the end, repository by repository, by streaming the
  documents back from disk in upstream's tag order. So chunks can follow the sources' order (a
  worker does not reopen archive after archive) and no repository is ever held in memory whole.
- One image's failure is reported and the rest go on. A repository with a failed tag keeps its
  previous tag-details.md (it could not be complete) and its previous document for that tag.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..refs import repo_info_name as repo_name
from ..render import tagdetails
from .plan import Job, Shard, check_outdir, plan, source_specs
from .report import QuietReporter, Reporter, Summary, one_line
from .tree import Tree
from .work import outcomes

__all__ = [
    "QuietReporter",
    "Reporter",
    "Summary",
    "mirror",
    "repo_name",
    "source_specs",
]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def mirror(
    spec: str,
    outdir: Path,
    *,
    reporter: Reporter | None = None,
    workers: int | None = None,
    era: int | None = None,
    name: str | None = None,
    host: str | None = None,
    shard: str | None = None,
) -> Summary:
    """Write the repo-info tree of every tagged image `spec` holds into `outdir`.

    `name`: the repository for images a source names by tag only (default: the layout's or
    archive's file name); `host`: the engine to ask, for docker-daemon; `shard`: `K/N`, only
    the K-th of N shares of the repositories (to split a store across machines).
    """
    reporter = reporter or QuietReporter()
    summary = Summary()
    share = Shard.parse(shard) if shard else None
    check_outdir(outdir, spec)
    planned = plan(spec, reporter, summary, name=name, host=host, shard=share)
    outdir.mkdir(parents=True, exist_ok=True)
    tree = Tree(outdir, summary)
    failed: set[str] = set()  # repositories with a tag that could not be written
    reporter.start(len(planned.jobs))
    for job, (data, error) in outcomes(
        planned.jobs,
        workers=workers or default_workers(),
        era=era,
        options={"host": host} if host else {},
        opened=planned.opened,
    ):
        try:
            if data is None:
                raise _Failed(error or "no document")
            tree.document(job, data)
            summary.images += 1
        except (_Failed, OSError) as problem:
            summary.failed += 1
            failed.add(job.repo)
            reporter.failure(f"{job.spec}: {job.label}", one_line(problem))
        reporter.advance(1)
    _finish(tree, planned.jobs, failed, reporter)
    return summary


class _Failed(Exception):
    """An image a worker could not read or render (its message is already one line)."""


def _finish(tree: Tree, jobs: list[Job], failed: set[str], reporter: Reporter) -> None:
    """Per repository, in name order: documents of tags gone removed, tag-details.md written."""
    by_repo: dict[str, list[str]] = {}
    for job in jobs:
        by_repo.setdefault(job.repo, []).append(job.tag)
    tree.summary.repositories = len(by_repo)
    for repo in sorted(by_repo):
        tags = tagdetails.sort_tags(by_repo[repo])
        try:
            tree.prune(repo, set(tags))
            if repo in failed:
                reporter.note(f"{repo}: tag-details.md not rewritten (a tag could not be read)")
                continue
            tree.tag_details(repo, tags)
        except OSError as problem:
            tree.summary.failed += 1
            reporter.failure(f"{repo}/tag-details.md", one_line(problem))

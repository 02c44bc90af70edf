"""`mirror`: every image and tag of a source written out as a docker-library/repo-info tree.

    OUTDIR/repos/<name>/remote/<tag>.md   the tag's remote document, as `show` prints it
    OUTDIR/repos/<name>/tag-details.md    upstream's concatenation (render/tagdetails.py)

Names lose their registry host and `library/`, as repo-info's do; images without a tag are
skipped with a note. A plain folder of archives and OCI layouts is one source per member.

Names and tags become paths only when they full-match a grammar (plan.py), so that no two map to
one path and none to another's files; any other is reported and skipped, never written:
- a name is the distribution reference grammar's path, lowercase (`a/b-c/d_e.f`, at most 255
  characters): one spelling per name, so two names never share a folder, even on a
  case-insensitive file system; every component starts with a letter or digit (no `.`, `..` or
  dot file: temp files and the lock are dot files). No component but the first may be `remote`
  or `tag-details.md`: `x/remote` would be x's documents folder, `x/tag-details.md` x's file.
- a tag is Docker's grammar in ASCII (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) and is written as
  `<tag>.md`; of two tags of a repository that differ only in case the first listed is written
  and the other skipped with a note (one file on a case-insensitive file system).

What mirror writes is reached through OUTDIR's descriptor without following a link below it
(outdir.py): a link, FIFO or other non-folder, non-file where one is expected is refused with a
one-line failure (for `repos` itself: exit 2), never followed nor removed. A lock stops a second
mirror into the same OUTDIR at once (exit 2); workers die with this process (reconstruct/pool.py);
temp files are removed on exit and signals, and what a killed run left by the next one.

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

from pathlib import Path

from ..pool import default_workers
from ..refs import repo_info_name as repo_name
from ..render import tagdetails
from .outdir import Outdir
from .plan import Plan, Shard, check_outdir, plan, source_specs
from .report import QuietReporter, Reporter, Summary, one_line, printable
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
    with Outdir(outdir) as out:
        if out.swept:
            reporter.note(f"removed {out.swept} temp file(s) an interrupted run left")
        tree = Tree(out.fd, str(outdir), summary)
        try:
            _write(tree, planned, reporter, workers, era, host)
        finally:
            tree.close()
    return summary


def _write(
    tree: Tree,
    planned: Plan,
    reporter: Reporter,
    workers: int | None,
    era: int | None,
    host: str | None,
) -> None:
    summary = tree.summary
    failed: set[str] = set()  # repositories with a tag that could not be written
    reporter.start(len(planned.jobs))
    results = outcomes(
        planned.jobs,
        workers=workers or default_workers(),
        era=era,
        options={"host": host} if host else {},
        opened=planned.opened,
    )
    try:
        for job, (data, error) in results:
            try:
                if data is None:  # the worker's one line: said as it is, not as a bug
                    summary.failed += 1
                    failed.add(job.repo)
                    reporter.failure(printable(f"{job.spec}: {job.label}"), error or "no document")
                else:
                    tree.document(job, data)
                    summary.images += 1
            except OSError as problem:
                summary.failed += 1
                failed.add(job.repo)
                reporter.failure(printable(f"{job.spec}: {job.label}"), one_line(problem))
            reporter.advance(1)
    finally:
        results.close()  # the pool is stopped here, not whenever the generator is collected
    _finish(tree, planned, failed, reporter, era)


def _finish(
    tree: Tree, planned: Plan, failed: set[str], reporter: Reporter, era: int | None
) -> None:
    """Per repository, in name order: documents of tags gone removed, tag-details.md written
    (as the source holds it, where it holds a whole one for the same tags)."""
    by_repo: dict[str, list[str]] = {}
    for job in planned.jobs:
        by_repo.setdefault(job.repo, []).append(job.tag)
    tree.summary.repositories = len(by_repo)
    for repo in sorted(by_repo):
        tags = tagdetails.sort_tags(by_repo[repo])
        try:
            tree.prune(repo, set(tags))
            if repo in failed:
                reporter.note(f"{repo}: tag-details.md not rewritten (a tag could not be read)")
                continue
            held = planned.collections.get(repo)
            if held is not None and sorted(tag for tag, _ in held.documents) == sorted(tags):
                tree.whole_tag_details(repo, tagdetails.render_collection(held, era).encode())
            else:
                tree.tag_details(repo, tags)
        except OSError as problem:
            tree.summary.failed += 1
            reporter.failure(f"{repo}/tag-details.md", one_line(problem))

"""`verify`: check everything a source can prove about its images, blob by blob.

Every index, manifest and config blob must hash to the digest its descriptor names and have the
size it states (a config's digest is the Image ID); every present layer blob is read once,
streamed, for its digest and the digest of what it inflates to (its diff_id, which the config's
`rootfs.diff_ids` must list in order); history must account for every layer. Verdicts:

- ok: what the source states and what the bytes say agree;
- mismatch: they disagree (tampering, corruption, a buggy writer);
- missing: a blob is named but absent. `normal` marks the absences a source is not expected to
  hold: foreign (non-distributable) layers, index platforms a copy left out, and the layers of a
  metadata-only copy (no layer blob at all, like the bundled sample);
- not checkable: the source keeps nothing to hash (a repo-info document, a Dockerfile, an
  engine's API, a data root's unpacked layers).

Exit status (see `VerifyReport.exit_code`): 0 all ok, 1 a mismatch or an unexpected absence;
errors reading the source raise SourceError (the CLI's exit 2).

The report types are in report.py, the per-source plans in plan.py, the blob-store walk and the
check builders in walk.py, hashing in digest.py, a layer's verdict in judge.py; the report's text
and JSON are render/verifyreport.py's.
"""

from __future__ import annotations

from .digest import measure_all
from .report import Check, Group, Progress, Verdict, VerifyReport

# --- running it ----------------------------------------------------------------------------------


def verify(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify everything the source `spec` holds (or the image its selector names); `host`: the
    engine of a `docker-daemon:` source (which has nothing to hash, but is still listed)."""
    from .plan import plan_source

    plan = plan_source(spec, config=config, host=host, progress=progress)
    if plan.jobs:
        total = sum(job.size for job in plan.jobs)
        if progress is not None:
            progress.start(total, "layers")
        try:
            measured = measure_all(
                plan.jobs, workers, progress.update if progress is not None else None
            )
        finally:
            if progress is not None:
                progress.stop()
        plan.measured.update(measured)
    plan.resolve()
    return plan.report


__all__ = ["Check", "Group", "Progress", "Verdict", "VerifyReport", "verify"]

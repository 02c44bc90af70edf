"""The command line: parse arguments, open a source, call one function, print.

Heavy modules (renderers, sources, the docker SDK) are imported inside the commands so that
`reconstruct --help` stays fast.

Images are untrusted: what is written to stdout comes from the renderers, which make it
terminal-safe; what is written to stderr (`reconstruct: …` lines, which name tags, names and
paths from the input) goes through `_warn` or `_fail`, which spell out control characters.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from ..audit.rules import SEVERITIES
from ..render import DEFAULT_FORMAT, FORMATS
from ..text import terminal_safe

APP_SETTINGS = dict(
    add_completion=True,  # --install-completion / --show-completion, and _RECONSTRUCT_COMPLETE
    rich_markup_mode=None,
    help=(
        "Rebuild how a container image was made from the metadata already on this machine, "
        "offline: the timestamped pseudo-Dockerfile docker-library/repo-info publishes, every "
        "history step matched to its layer.\n\n"
        "SOURCE is TRANSPORT:ARGUMENT[:SELECTOR] or a bare path (detected): json:FILE|DIR, "
        "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE|-[:NAME:TAG], "
        "registry-dir:DIR[:NAME:TAG], docker-root:DIR[:NAME:TAG], "
        "containerd:[ROOT][:NAMESPACE/NAME:TAG] (containerd's own root, default "
        "/var/lib/containerd), containers-storage:[ROOT][:NAME:TAG] (Podman's, Buildah's and "
        "CRI-O's graph root, default from storage.conf), repo-info:FILE, "
        "repo-info-dir:DIR:NAME:TAG, dockerfile:FILE[:STAGE], docker-daemon:[REF] (a running "
        "Docker or Podman engine; a bare image reference such as python:3 or an image ID that "
        "is no path here means the same)."
    ),
)
app = typer.Typer(**APP_SETTINGS)


def _print_version(value: bool) -> None:
    """`--version`: eager, so it answers before typer looks for a command."""
    if value:
        from .. import __version__

        print(f"reconstruct {__version__}")
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
]


# show's formats come from the renderers' one list; report formats are each command's own.
Format = StrEnum("Format", {name.replace("-", "_"): name for name in FORMATS})
DEFAULT = Format(DEFAULT_FORMAT)


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


# Options several commands share, spelled once.
LayerJobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Processes reading layers. Default: one per CPU."),
]
HostOption = Annotated[
    str | None, typer.Option(help="docker-daemon: the engine to ask (see show --host).")
]
ConfigOption = Annotated[
    str | None, typer.Option(help="The config blob, when SOURCE is a lone manifest file.")
]
SourceArg = Annotated[str, typer.Argument(help="What to read: TRANSPORT:ARG[:SELECTOR] or a path.")]


@app.command()
def show(
    source: SourceArg,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = DEFAULT,
    platform: Annotated[
        str | None,
        typer.Option(help="Only this platform: os/arch[/variant][:os.version]. Default: all."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="NAME:TAG to print in repo-info headers (default: from the source)."),
    ] = None,
    era: Annotated[
        int | None,
        typer.Option(
            help="Follow the repo-info generator of this year: 2019 prints `Platforms:` without "
            "a count and BuildKit steps as `RUN RUN …`; 2017 hides foreign Last Modified; "
            "before 2024 attestation entries are left out. Default: a repo-info document's "
            "own (told from what it contains), else today's."
        ),
    ] = None,
    config: ConfigOption = None,
    no_trunc: Annotated[
        bool, typer.Option("--no-trunc", help="Table: do not cut instructions.")
    ] = False,
    all_images: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every image the source holds, one after another (jsonl: one object per line, "
            "streamed). A failure on one image is reported and the rest go on; exit 1 at the end.",
        ),
    ] = False,
    host: Annotated[
        str | None,
        typer.Option(
            help="docker-daemon: the engine to ask (unix:///path, tcp://host:port, or a socket "
            "path), e.g. Podman's socket. Default: DOCKER_HOST, else /var/run/docker.sock."
        ),
    ] = None,
    exact: Annotated[
        bool | None,
        typer.Option(
            "--exact/--no-exact",
            help="docker-daemon: read the image's own config from the engine's export (streams "
            "the image) instead of inferring which steps made layers from its history. Default: "
            "only when the history is ambiguous and the image is under 200 MB.",
            show_default=False,
        ),
    ] = None,
    recover: Annotated[
        bool | None,
        typer.Option(
            "--recover/--no-recover",
            help="COPY/ADD steps the builder recorded only by a content hash (`file:<sha> in "
            "/dst`): read their layers for what they really add (JSON: `recovered`). Default: "
            "with --format dockerfile.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Reconstruct one image (or every platform of an index) and print it."""
    from .. import api as service
    from ..refs import listing_label

    whole = None if all_images or platform or host else service.load_whole(source)
    if whole is not None:  # a tag-details.md with no tag named: the whole file again
        if format.value == "repo-info":
            sys.stdout.write(service.render_whole(whole, era=era))
            return
        all_images = True
    if not all_images:
        target = service.load(
            source,
            config=config,
            platform=platform,
            host=host,
            exact=exact,
            recover=format.value == "dockerfile" if recover is None else recover,
        )
        sys.stdout.write(
            service.render(target, format.value, name=name, era=era, no_trunc=no_trunc)
        )
        return
    from ..render import joined

    failures = 0

    def documents():
        nonlocal failures
        for reference, outcome in service.load_all(
            source, platform=platform, host=host, exact=exact
        ):
            if isinstance(outcome, Exception):
                failures += 1
                _warn(f"{listing_label(reference)}: {_first_line(str(outcome))}")
                continue
            yield service.render(outcome, format.value, era=era, no_trunc=no_trunc)

    for piece in joined(documents(), format.value):  # streamed: one image at a time
        sys.stdout.write(piece)
        sys.stdout.flush()
    if failures:
        _warn(f"{failures} image(s) could not be read")
        raise typer.Exit(1)


@app.command("ls")
def list_source(
    source: SourceArg,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON lines instead of a table.")
    ] = False,
    host: HostOption = None,
) -> None:
    """List what a source holds: name, tag, digest (`ls docker-daemon:`: the engine's images)."""
    from .. import api as service
    from ..render import listing

    references = service.list_references(source, host=host)
    sys.stdout.write(
        listing.render_jsonl(references) if json_output else listing.render_table(references)
    )


class CompareFormat(StrEnum):
    text = "text"
    json = "json"
    diff = "diff"


@app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="A: any source, a repo-info document or a Dockerfile.")],
    b: Annotated[str, typer.Argument(help="B: the same kinds as A.")],
    format: Annotated[
        CompareFormat, typer.Option("--format", "-f", help="Report format.")
    ] = CompareFormat.text,
    platform: Annotated[str | None, typer.Option(help="Only this platform on both sides.")] = None,
) -> None:
    """Compare two images' histories and layers: exit 0 equal, 1 different, 2 error (like diff)."""
    from .. import api as service
    from ..render import comparison as render_comparison

    compared = service.compare(a, b, platform=platform)
    if format is CompareFormat.json:
        sys.stdout.write(render_comparison.render_json(compared.comparison, a, b))
    elif format is CompareFormat.diff:
        # repo-info renderings diffed (api.py), not through render(): made terminal-safe here
        diff, notes = service.comparison_diff(compared.a, compared.b, a, b)
        sys.stdout.write(terminal_safe(diff))
        for note in notes:
            _warn(note)
    else:
        sys.stdout.write(render_comparison.render_text(compared.comparison, a, b))
    raise typer.Exit(1 if compared.differs else 0)


@app.command("base")
def base_command(
    source: SourceArg,
    against: Annotated[
        list[str],
        typer.Option(
            "--against", help="A candidate base: any source; every image it holds is tried."
        ),
    ],
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """Find which image SOURCE starts from, by the longest common prefix of steps and layers."""
    from .. import api as service
    from ..render import basereport

    report = service.base(source, against, platform=platform)
    sys.stdout.write(
        basereport.render_json(report) if json_output else basereport.render_text(report)
    )


@app.command("mirror")
def mirror_command(
    source: SourceArg,
    outdir: Annotated[str, typer.Argument(help="Where repos/<name>/… goes (created if missing).")],
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes. Default: one per CPU."),
    ] = None,
    era: Annotated[
        int | None, typer.Option(help="Follow the repo-info generator of this year (see show).")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="Repository for images the source names by tag only (default: the "
            "layout's or archive's file name)."
        ),
    ] = None,
    host: HostOption = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="K/N: only the K-th of N shares of the repositories (split a store across "
            "machines; the shares' trees do not overlap)."
        ),
    ] = None,
) -> None:
    """Write every tagged image as OUTDIR/repos/<name>/remote/<tag>.md and tag-details.md, as
    docker-library/repo-info publishes them; only changed files are rewritten."""
    from pathlib import Path

    from ..mirror import mirror
    from .progress import ConsoleReporter

    if not outdir:  # Path("") is the current folder: a slip, not a choice
        raise UserError("OUTDIR is empty: name a folder (`.` for this one)")
    with ConsoleReporter(sys.stderr) as reporter:
        summary = mirror(
            source,
            Path(outdir),
            reporter=reporter,
            workers=jobs,
            era=era,
            name=name,
            host=host,
            shard=shard,
        )
    print(terminal_safe(summary.line(Path(outdir))))
    if summary.failed:
        raise typer.Exit(1)


class VerifyFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("verify")
def verify_command(
    source: SourceArg,
    format: Annotated[
        VerifyFormat, typer.Option("--format", "-f", help="Report format.")
    ] = VerifyFormat.text,
    jobs: LayerJobsOption = None,
    config: ConfigOption = None,
    host: HostOption = None,
) -> None:
    """Check every index, manifest, config and layer blob against the digest and size that name
    it, and every layer against its diff_id: exit 0 all ok, 1 a mismatch or an unexpected
    absence (absent foreign layers are normal), 2 error."""
    from .. import api as service
    from ..render import verifyreport
    from .progress import TerminalProgress

    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
    report = service.verify(source, config=config, host=host, workers=jobs, progress=progress)
    render = verifyreport.render_json if format is VerifyFormat.json else verifyreport.render_text
    sys.stdout.write(render(report))
    raise typer.Exit(report.exit_code)


class AuditFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


Severity = StrEnum("Severity", {name: name for name in SEVERITIES})


@app.command("audit")
def audit_command(
    source: SourceArg,
    format: Annotated[
        AuditFormat, typer.Option("--format", "-f", help="Report format (SARIF 2.1.0).")
    ] = AuditFormat.text,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity."),
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    host: HostOption = None,
    files: Annotated[
        bool,
        typer.Option(
            "--files",
            help="Also audit what each step wrote, from the layer blobs the source keeps: "
            "secrets in files (above all one a later step removed: still in its layer), "
            "credential files, setuid/setgid and world-writable files.",
        ),
    ] = False,
) -> None:
    """Find secrets (masked), risky build steps, config and history problems: each finding with
    its step, rule id, severity and reason."""
    from .. import api as service
    from ..render import auditreport, auditsarif

    report = service.audit(source, platform=platform, host=host, files=files)
    if format is AuditFormat.sarif:
        sys.stdout.write(auditsarif.render_sarif(report))
    elif format is AuditFormat.json:
        sys.stdout.write(auditreport.render_json(report))
    else:
        sys.stdout.write(auditreport.render_text(report))
    raise typer.Exit(report.exit_code(fail_on.value if fail_on else None))


class FilesFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


@app.command("files")
def files_command(
    source: SourceArg,
    step: Annotated[
        int | None, typer.Option(help="Only this step (from 1, as audit numbers them).")
    ] = None,
    layer: Annotated[
        str | None, typer.Option(help="Only the step whose layer digest starts so.")
    ] = None,
    format: Annotated[
        FilesFormat, typer.Option("--format", "-f", help="Report format.")
    ] = FilesFormat.table,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    jobs: LayerJobsOption = None,
    host: HostOption = None,
) -> None:
    """What each step wrote: its layer's entries (added, changed, removed by a whiteout, made
    opaque) with type, mode, owner, size and link, and per step totals; read from the layer
    blobs the source keeps (archives, also compressed or on standard input; layouts, registry
    storage, containerd, a Docker data root, containers-storage) or from an engine's export,
    streamed once, never extracted."""
    from .. import api as service
    from ..render import filesreport

    images = service.files(
        source, step=step, layer=layer, platform=platform, host=host, workers=jobs
    )
    if format is FilesFormat.json:
        sys.stdout.write(filesreport.render_json(source, images))
    elif format is FilesFormat.jsonl:
        for line in filesreport.render_jsonl(source, images):
            sys.stdout.write(line)
    else:
        sys.stdout.write(filesreport.render_text(source, images))


@app.command("report")
def report_command(
    source: SourceArg,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file to write (required; `-` for stdout). Written whole or not at "
            "all: to a temp file in the same folder, renamed over it.",
            show_default=False,
        ),
    ],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="UPSTREAM to compare with (any source, a repo-info document or a Dockerfile), "
            "as `compare SOURCE UPSTREAM`.",
        ),
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 also when a finding is at or above this severity."),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            help="Only this platform in the history, audit and comparison (verify checks "
            "every blob). Default: all."
        ),
    ] = None,
    era: Annotated[
        int | None,
        typer.Option(help="Follow the repo-info generator of this year (see show)."),
    ] = None,
    jobs: LayerJobsOption = None,
    config: ConfigOption = None,
    host: HostOption = None,
) -> None:
    """Write one self-contained HTML report for people: the image and every platform it
    holds, the reconstructed history with each step's date, line and layer, a chart of the
    layer sizes (foreign Windows base layers hatched), the verify verdicts, the audit findings
    (secrets masked, in the history too) and, with --against, the comparison with upstream.

    The file fetches nothing (no script, stylesheet, font or image from anywhere; a strict
    Content-Security-Policy says so), prints on white, and escapes everything the image says.
    Exit 0 when written; 1 when written and verify fails (as `verify` exits 1) or, with
    --fail-on, a finding is at or above it (as `audit --fail-on`); a difference from upstream
    does not count; 2 on error, with nothing written.

    E.g. `reconstruct report oci:./layout:1.0 --against upstream.md -o report.html`."""
    from .. import api as service
    from .progress import TerminalProgress

    if output != "-":
        _check_output(output)  # before the work: a typo in the folder costs nothing
        from pathlib import Path

        from ..mirror.plan import check_file_outside

        check_file_outside(Path(output), [source] + ([against] if against else []))
    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
    report = service.report(
        source,
        against=against,
        config=config,
        platform=platform,
        host=host,
        workers=jobs,
        progress=progress,
    )
    document = service.render_report(report, era=era)
    if output == "-":
        sys.stdout.write(document)
    else:
        service.write_report(output, document)
    raise typer.Exit(report.exit_code(fail_on.value if fail_on else None))


def _check_output(output: str) -> None:
    """A file `report` can write: not a folder, in a folder that exists and is writable."""
    if not output or output.endswith(os.sep):
        raise UserError(f"--output {output!r}: name a file")
    if os.path.isdir(output):
        raise UserError(f"--output {output}: is a folder, not a file")
    folder = os.path.dirname(output) or "."
    if not os.path.isdir(folder):
        raise UserError(f"--output {output}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--output {output}: folder {folder} is not writable")


@app.command("schema")
def schema_command(
    name: Annotated[
        str | None, typer.Argument(help="Which output's schema; none: list the names.")
    ] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a JSON output: `schema show` for `show --format
    json`, `schema audit` for `audit --format json`, …; with no NAME, list them."""
    from .. import schemas

    sys.stdout.write(schemas.listing() if name is None else schemas.text(name))


def main() -> None:
    from ..sources.base import SourceError

    arguments = sys.argv[1:] or ["--help"]
    try:
        code = _app_for(arguments)(arguments, prog_name="reconstruct", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except (SourceError, UserError, LookupError, ValueError) as error:
        _fail(str(error))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        _fail("aborted")
    except OSError as error:
        _fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    except Exception as error:
        if hasattr(error, "format_message"):  # click's usage errors (typer vendors click)
            _fail(error.format_message())
        _fail(f"internal error ({type(error).__name__}: {error}); please report it")
    except KeyboardInterrupt:
        _fail("interrupted")


def _app_for(arguments: list[str]) -> typer.Typer:
    """The app with only the command about to run: typer builds every registered command's
    parameters before dispatching, which costs more than the rest of a small `show`."""
    wanted = arguments[0]
    chosen = [c for c in app.registered_commands if (c.name or c.callback.__name__) == wanted]
    if not chosen:
        return app  # `--help`, or an unknown command: typer says what there is
    single = typer.Typer(**APP_SETTINGS)
    single.registered_commands = chosen
    single.callback()(_group)  # a group still: `reconstruct show …` keeps its command name
    return single


@app.callback()
def _group(version: VersionOption = False) -> None:
    """(The command line's group: only `--version` to answer before the command.)"""


def _first_line(message: str) -> str:
    """A message's first line, its control characters spelled out first (a CR or a vertical
    tab from an image is shown as `\\x0d`, not taken for a line break)."""
    lines = terminal_safe(message).splitlines()
    return lines[0] if lines and lines[0] else "error"


def _warn(message: str) -> None:
    """One `reconstruct: …` line on stderr, terminal-safe; the command goes on."""
    print(f"reconstruct: {_first_line(message)}", file=sys.stderr, flush=True)


def _fail(message: str) -> None:
    """One `reconstruct: …` line on stderr, terminal-safe, and exit code 2."""
    _warn(message)
    sys.exit(2)

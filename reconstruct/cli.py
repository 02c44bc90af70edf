"""The command line: parse arguments, open a source, call one function, print.

Heavy modules (renderers, sources, the docker SDK) are imported inside the commands so that
`reconstruct --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    help=(
        "Rebuild how a container image was made from the metadata already on this machine, "
        "offline: the timestamped pseudo-Dockerfile docker-library/repo-info publishes, every "
        "history step matched to its layer.\n\n"
        "SOURCE is TRANSPORT:ARGUMENT[:SELECTOR] or a bare path (detected): json:FILE|DIR, "
        "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE|-[:NAME:TAG], "
        "registry-dir:DIR[:NAME:TAG], docker-root:DIR[:NAME:TAG], repo-info:FILE, "
        "repo-info-dir:DIR:NAME:TAG, dockerfile:FILE[:STAGE]."
    ),
)


class Format(StrEnum):
    repo_info = "repo-info"
    dockerfile = "dockerfile"
    json = "json"
    jsonl = "jsonl"
    table = "table"


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


SourceArg = Annotated[str, typer.Argument(help="What to read: TRANSPORT:ARG[:SELECTOR] or a path.")]


@app.command()
def show(
    source: SourceArg,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.")
    ] = Format.repo_info,
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
            "before 2024 attestation entries are left out. Default: today's."
        ),
    ] = None,
    config: Annotated[
        str | None, typer.Option(help="The config blob, when SOURCE is a lone manifest file.")
    ] = None,
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
) -> None:
    """Reconstruct one image (or every platform of an index) and print it."""
    from . import service

    if not all_images:
        target = service.load(source, config=config, platform=platform)
        sys.stdout.write(
            service.render(target, format.value, name=name, era=era, no_trunc=no_trunc)
        )
        return
    failures = shown = 0
    as_array = format is Format.json  # several JSON documents: one array, streamed
    if as_array:
        sys.stdout.write("[\n")
    for reference, outcome in service.load_all(source, platform=platform):
        if isinstance(outcome, Exception):
            failures += 1
            label = service.describe(reference)
            print(f"reconstruct: {label}: {str(outcome).splitlines()[0]}", file=sys.stderr)
            continue
        text = service.render(outcome, format.value, era=era, no_trunc=no_trunc)
        if shown and format is not Format.jsonl:
            sys.stdout.write(",\n" if as_array else "\n")
        sys.stdout.write(text.rstrip("\n") + "\n" if as_array else text)
        sys.stdout.flush()
        shown += 1
    if as_array:
        sys.stdout.write("]\n")
    if failures:
        print(f"reconstruct: {failures} image(s) could not be read", file=sys.stderr)
        raise typer.Exit(1)


@app.command("ls")
def list_source(
    source: SourceArg,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON lines instead of a table.")
    ] = False,
) -> None:
    """List what a source holds: name, tag, digest."""
    from . import service

    sys.stdout.write(service.listing(source, as_json=json_output))


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
    from . import service
    from .render import comparison as render_comparison

    left, right, result = service.compare(a, b, platform=platform)
    if format is CompareFormat.json:
        sys.stdout.write(render_comparison.render_json(result, a, b))
    elif format is CompareFormat.diff:
        sys.stdout.write(service.comparison_diff(left, right, a, b))
    else:
        sys.stdout.write(render_comparison.render_text(result, a, b))
    raise typer.Exit(1 if result.differs else 0)


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
    from . import service
    from .render import basereport

    report = service.base(source, against, platform=platform)
    sys.stdout.write(
        basereport.render_json(report) if json_output else basereport.render_text(report)
    )


def main() -> None:
    from .sources.base import SourceError

    arguments = sys.argv[1:] or ["--help"]
    try:
        code = app(arguments, prog_name="reconstruct", standalone_mode=False)
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


def _fail(message: str) -> None:
    first = message.splitlines()[0] if message else "error"
    print(f"reconstruct: {first}", file=sys.stderr)
    sys.exit(2)

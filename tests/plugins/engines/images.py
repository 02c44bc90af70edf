"""What every builder builds: the test images' names, their Dockerfiles, and the build
context (the busybox root filesystem imported as ``busybox:local``)."""

from __future__ import annotations

import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.processes import run
from tests.plugins.engines.session import require_engines

BUILD_ARGS = {"TOKEN": "s3cr3t"}
FULL = "reconstruct-test/full:1"
FULL_TAGS = ("reconstruct-test/full:latest", "reconstruct-test/alias:1")
SMALL = "reconstruct-test/small:1"
BASE = "busybox:local"
# containers-storage qualifies short names with localhost/
BUILDAH_DEFAULT = "localhost/reconstruct-test/full:buildah"
BUILDAH_LAYERS = "localhost/reconstruct-test/full:buildah-layers"
CS_BASE = "localhost/busybox:local"

FULL_DOCKERFILE = """\
FROM busybox:local
ARG VERSION=1.2.3
ARG TOKEN
ARG UNSET
ENV APP_HOME=/opt/app \\
    APP_VERSION=$VERSION
ENV LANG=C.UTF-8 GREETING="hello world"
LABEL org.opencontainers.image.title="reconstruct test" version=$VERSION
COPY hello.txt /opt/app/hello.txt
COPY conf/ /opt/app/conf/
ADD payload.tar /opt/app/payload/
ADD notes.txt /opt/app/
RUN echo "version=$VERSION token=$TOKEN" > /opt/app/built.txt && mkdir -p /data /logs
RUN true
RUN ["/bin/sh", "-c", "echo exec-form > /opt/app/exec.txt"]
WORKDIR /opt/app
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell-form > /opt/app/shell.txt
USER 1000:1000
EXPOSE 8080/tcp 53/udp
VOLUME ["/data", "/logs"]
HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O- http://127.0.0.1:8080/ || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo \\"hello world\\""]
"""

SMALL_DOCKERFILE = """\
FROM busybox:local
RUN echo small > /small.txt
CMD ["cat", "/small.txt"]
"""


@dataclass
class BuildContext:
    """The inputs every builder uses.

    ``full``         context directory with ``Dockerfile`` (FULL_DOCKERFILE) and
                     hello.txt, conf/, payload.tar (ADD extracts it), notes.txt
    ``small``        context directory for SMALL_DOCKERFILE
    ``dockerfile``   text of the full Dockerfile
    ``build_args``   ``--build-arg`` values (``TOKEN=s3cr3t``; VERSION keeps its default)
    ``base_tar``     the busybox root filesystem tar imported as ``busybox:local``
    """

    full: Path
    small: Path
    dockerfile: str
    build_args: dict[str, str]
    base_tar: Path


def _make_base_tar(path: Path) -> None:
    """bin/busybox plus one symlink per applet, a passwd/group, /tmp."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    applets = run([busybox, "--list"]).stdout.decode().split()

    def add(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, **kw) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = kind, mode, 1700000000
        data = kw.pop("data", None)
        for key, value in kw.items():
            setattr(info, key, value)
        if data is not None:
            info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data is not None else None)

    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
            add(tar, d, tarfile.DIRTYPE, mode)
        add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=Path(busybox).read_bytes())
        for applet in sorted(set(applets) - {"busybox"}):
            add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n"
        add(tar, "etc/passwd", tarfile.REGTYPE, 0o644, data=passwd)
        add(tar, "etc/group", tarfile.REGTYPE, 0o644, data=b"root:x:0:\napp:x:1000:\n")


@pytest.fixture(scope="session")
def build_context(engines_tmp: Path) -> BuildContext:
    """Dockerfiles and contexts (see BuildContext). No engine needed."""
    require_engines("busybox")
    top = engines_tmp / "context"
    full, small = top / "full", top / "small"
    (full / "conf").mkdir(parents=True)
    small.mkdir(parents=True)
    (full / "Dockerfile").write_text(FULL_DOCKERFILE)
    (full / "hello.txt").write_text("hello\n")
    (full / "notes.txt").write_text("notes\n")
    (full / "conf" / "app.conf").write_text("a=1\n")
    (full / "conf" / "extra.conf").write_text("b=2\n")
    payload = top / "payload"
    payload.mkdir()
    (payload / "p.txt").write_text("p\n")
    with tarfile.open(full / "payload.tar", "w") as tar:
        tar.add(payload / "p.txt", arcname="p.txt")
    (small / "Dockerfile").write_text(SMALL_DOCKERFILE)
    base_tar = top / "busybox-rootfs.tar"
    _make_base_tar(base_tar)
    return BuildContext(full, small, FULL_DOCKERFILE, dict(BUILD_ARGS), base_tar)

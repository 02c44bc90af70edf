"""The Dockerfile renderer: classic-builder Go formatting turned into valid syntax."""

from __future__ import annotations

import json

import pytest
from dockerfile_parse import DockerfileParser

from reconstruct.history import link_layers
from reconstruct.model import Image, Layer, Platform, Reference, Step, Target
from reconstruct.render.dockerfile import render


def _render(*created_by: str, shell=None, platform=None, sizes=None) -> list[str]:
    image = Image(
        platform=platform or Platform("linux", "amd64"),
        shell=shell,
        steps=[Step(created_by=c, empty_layer=False) for c in created_by],
        diff_ids=[f"sha256:{i:064x}" for i in range(len(created_by))],
        layers=[
            Layer(digest=f"sha256:{i:064x}", size=(sizes or {}).get(i, 10))
            for i in range(len(created_by))
        ],
    )
    link_layers(image)
    return render(Target(Reference(), image)).splitlines()


@pytest.mark.parametrize(
    ("created_by", "line"),
    [
        (
            '/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]',
            'CMD ["nginx", "-g", "daemon off;"]',
        ),
        ('/bin/sh -c #(nop)  CMD ["bash"]', 'CMD ["bash"]'),
        ('/bin/sh -c #(nop)  ENTRYPOINT ["/entry.sh"]', 'ENTRYPOINT ["/entry.sh"]'),
        ("/bin/sh -c #(nop)  EXPOSE map[80/tcp:{} 53/udp:{}]", "EXPOSE 80/tcp 53/udp"),
        ("/bin/sh -c #(nop)  VOLUME [/data /logs]", 'VOLUME ["/data", "/logs"]'),
        ('/bin/sh -c #(nop)  VOLUME ["/data"]', 'VOLUME ["/data"]'),
        ("/bin/sh -c #(nop) WORKDIR /srv", "WORKDIR /srv"),
        ("/bin/sh -c #(nop)  ENV A=1 B=2", "ENV A=1 B=2"),
        ("/bin/sh -c #(nop)  USER nobody", "USER nobody"),
        ("/bin/sh -c #(nop)  LABEL a=b", "LABEL a=b"),
        ("/bin/sh -c #(nop)  SHELL [/bin/bash -c]", 'SHELL ["/bin/bash", "-c"]'),
        ("COPY /rootfs/ / # buildkit", "COPY /rootfs/ /"),
        ("RUN /bin/sh -c make # buildkit", "RUN make"),
        ("ENV LANG=C.UTF-8", "ENV LANG=C.UTF-8"),
        ("/bin/sh -c apt-get update", "RUN apt-get update"),
        (
            '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q -O- localhost || exit 1"] "30s" "3s" "0s" "0s" \'\\x03\'}',
            "HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD wget -q -O- localhost || exit 1",
        ),
        (
            '/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}',
            "HEALTHCHECK NONE",
        ),
    ],
)
def test_go_formatting_becomes_valid_syntax(created_by, line):
    assert line in _render(created_by)


def test_copy_of_hashed_content_is_shown_honestly():
    lines = _render("/bin/sh -c #(nop) COPY file:" + "ab" * 32 + " in /usr/local/bin/ ")
    assert (
        f"# source not recorded: the builder kept only a hash of its content (file:{'ab' * 32})"
        in lines
    )
    assert "COPY file-abababababab /usr/local/bin/" in lines
    lines = _render("/bin/sh -c #(nop) ADD dir:" + "cd" * 32 + " in /opt/my app ")
    assert 'ADD dir-cdcdcdcdcdcd/ "/opt/my app"' in lines


def test_build_args_become_arg_lines_once():
    lines = _render(
        "|2 A=1 B=two words /bin/sh -c echo $A",
        "|2 A=1 B=two words /bin/sh -c echo $B",
        "|1 A=2 /bin/sh -c x",
    )
    assert lines.count("ARG A=1") == 1 and lines.count('ARG B="two words"') == 1
    assert "ARG A=2" in lines
    assert lines.index("ARG A=1") < lines.index("RUN echo $A") < lines.index("ARG A=2")


def test_heredoc_and_notes_stay_valid(tmp_path):
    lines = _render("/bin/sh -c cat <<EOF\nhi\nEOF", "BusyBox 1.38.0 (uclibc)", "")
    assert "RUN <<EOF_" in lines
    assert "# recorded, but not as a Dockerfile instruction:" in lines
    assert "# BusyBox 1.38.0 (uclibc)" in lines
    parser = DockerfileParser(path=str(tmp_path))
    parser.content = "\n".join(lines) + "\n"
    assert (
        next(i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT") == "FROM"
    )


def test_windows_base_is_inferred_and_said_so():
    powershell = ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
    lines = _render(
        "Apply image 1809-RTM-amd64",
        "Install update 1809-amd64",
        "powershell -Command $ErrorActionPreference = 'Stop'; #(nop)  SHELL [powershell -Command $ErrorActionPreference = 'Stop';]",
        shell=powershell,
        platform=Platform("windows", "amd64", os_version="10.0.17763.737"),
        sizes={0: 1_500_000_000, 1: 600_000_000},
    )
    assert "FROM mcr.microsoft.com/windows/servercore:10.0.17763.737" in lines
    assert lines[
        lines.index("FROM mcr.microsoft.com/windows/servercore:10.0.17763.737") - 1
    ].startswith("# FROM inferred offline")
    assert "# base layer: Apply image 1809-RTM-amd64" in lines
    assert "# base layer: Install update 1809-amd64" in lines
    assert f"SHELL {json.dumps(powershell)}" in lines


def test_small_windows_base_is_nanoserver():
    lines = _render(
        "Apply image 10.0.20348.5499",
        platform=Platform("windows", "amd64", os_version="10.0.20348.5499"),
        sizes={0: 124_257_916},
    )
    assert "FROM mcr.microsoft.com/windows/nanoserver:10.0.20348.5499" in lines


def test_linux_base_is_unknown_and_said_so():
    lines = _render("/bin/sh -c #(nop) ADD file:" + "ee" * 32 + " in / ")
    assert "FROM scratch" in lines
    assert any("base image is not recorded" in line for line in lines)


def test_build_args_without_any_name_are_not_declared():
    # found by the fuzzer: `|1 ` followed by no NAME=value pair
    lines = _render("|1 !! /bin/sh -c echo")
    assert "RUN echo" in lines and not any(line.startswith("ARG ") for line in lines)

"""Private mount namespaces: the command lines that keep what an engine writes at fixed global
paths (/etc, /var, /opt, /run) inside the session's directory."""

from __future__ import annotations

import itertools
from pathlib import Path

# Runs "$@" in a new mount namespace where /etc, /var and /opt are overlays
# whose upper layer is "$1/<n>.upper" (so writes to fixed global paths stay in
# our temp dir) and /run is an empty tmpfs (hides a system containerd/dockerd
# socket, takes /run/docker and /run/containerd/s writes). Everything mounted
# in the namespace goes away when its last process exits.
_NS_SCRIPT = r"""
set -e
ov=$1; shift
# /run first, and -n: mount(8) would otherwise create /run/mount/utab on the host
mount -n -t tmpfs -o mode=0755 tmpfs /run
for d in /etc /var /opt; do
    [ -d "$d" ] || continue
    n=${d#/}
    mkdir -p "$ov/$n.upper" "$ov/$n.work"
    mount -n -t overlay overlay -o "lowerdir=$d,upperdir=$ov/$n.upper,workdir=$ov/$n.work" "$d"
done
exec "$@"
"""

_ns_counter = itertools.count()


class Namespaces:
    """Makes ``unshare`` command lines; each gets its own overlay directory.

    ``etc_files`` (relative path -> text) are put into every overlay's /etc, so
    tools without a flag for it read our registries.conf, policy.json etc.
    """

    def __init__(self, root: Path):
        self.root = root
        self.etc_files: dict[str, str] = {}

    def wrap(self, argv: list[str]) -> list[str]:
        ov = self.root / f"ns{next(_ns_counter):03d}"
        for rel, text in self.etc_files.items():
            target = ov / "etc.upper" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        ov.mkdir(parents=True, exist_ok=True)
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            _NS_SCRIPT,
            "sh",
            str(ov),
            *argv,
        ]

    def written(self) -> list[str]:
        """Paths the engines wrote under /etc, /var, /opt (made private by the overlays)."""
        found = set()
        for upper in self.root.glob("ns*/*.upper"):
            top = "/" + upper.name.removesuffix(".upper")
            for path in upper.rglob("*"):
                if not path.is_dir():
                    found.add(f"{top}/{path.relative_to(upper)}")
        return sorted(found)

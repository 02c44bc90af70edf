"""A private containers-storage shared by buildah, podman and skopeo, and what they make in it:
the ``containers_storage``, ``buildah``, ``podman``, ``podman_service`` and ``skopeo``
fixtures."""

from __future__ import annotations

import json
import resource
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.dockerd import DOCKER_API_VERSION, DOCKER_CLI, DockerSaves
from tests.plugins.engines.images import (
    BUILDAH_DEFAULT,
    BUILDAH_LAYERS,
    CS_BASE,
    FULL,
    BuildContext,
)
from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.processes import Daemon, EngineError, run, unix_http_get
from tests.plugins.engines.records import Artifact, ImageTruth, index_files
from tests.plugins.engines.session import base_env, require_engines
from tests.support.needs import unavailable


class ContainersStorage:
    """A private containers-storage (vfs unless told another driver) and config for buildah,
    podman and skopeo; ``name`` is its folder below the session's, ``root`` another graph
    root (the run root stays below the session's: podman wants it short).

    ``root``, ``runroot``   graph root and run root
    ``conf``                directory with storage.conf, registries.conf (no search
                            registries, short names disabled), policy.json
                            (insecureAcceptAnything), containers.conf (cgroupfs,
                            file events, tmp dirs inside ``tmp``)
    ``env``                 CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF,
                            CONTAINERS_CONF, TMPDIR pointing there
    ``storage_ref(name)``   ``containers-storage:[vfs@root+runroot]name`` for skopeo

    ``buildah(*args)``, ``podman(*args)``, ``skopeo(*args)`` run the tool with
    those settings inside a private mount namespace and return the
    CompletedProcess. ``podman_argv`` is podman's command line with global flags.
    """

    def __init__(
        self,
        tmp: Path,
        namespaces: Namespaces,
        name: str = "cs",
        driver: str = "vfs",
        root: Path | None = None,
    ):
        self.dir = tmp / name
        self.driver = driver
        self.root = root or self.dir / "root"  # see engines_tmp
        self.runroot = self.dir / "run"
        self.conf, self.tmp = self.dir / "conf", self.dir / "tmp"
        for d in (self.root, self.runroot, self.conf, self.tmp):
            d.mkdir(parents=True)
        self._ns = namespaces
        self._write_configs()
        self.env = base_env() | {
            "CONTAINERS_STORAGE_CONF": str(self.conf / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.conf / "registries.conf"),
            "CONTAINERS_CONF": str(self.conf / "containers.conf"),
            "TMPDIR": str(self.tmp),  # big temporary files (podman save, skopeo)
        }
        store = [
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            driver,
        ]
        self.buildah_argv = [
            "buildah",
            *store,
            "--registries-conf",
            str(self.conf / "registries.conf"),
        ]
        self.podman_argv = [
            "podman",
            *store,
            "--tmpdir",
            str(self.tmp / "libpod"),
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--network-config-dir",
            str(self.dir / "networks"),
            "--volumepath",
            str(self.dir / "volumes"),
        ]
        self.skopeo_argv = [
            "skopeo",
            "--policy",
            str(self.conf / "policy.json"),
            "--registries.d",
            str(self.conf / "registries.d"),
            "--tmpdir",
            str(self.tmp),
        ]

    def _write_configs(self) -> None:
        files = {
            "storage.conf": (
                f'[storage]\ndriver = "{self.driver}"\n'
                f'graphroot = "{self.root}"\nrunroot = "{self.runroot}"\n'
            ),
            # no search registries and no short-name aliases: nothing is looked up remotely
            "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
            "policy.json": json.dumps({"default": [{"type": "insecureAcceptAnything"}]}),
            "containers.conf": (
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                f'events_logfile_path = "{self.dir}/events.log"\ntmp_dir = "{self.tmp}/libpod"\n'
                f'[network]\nnetwork_config_dir = "{self.dir}/networks"\n'
            ),
        }
        (self.conf / "registries.d").mkdir()
        for name, text in files.items():
            (self.conf / name).write_text(text)
            # also at the default path inside the namespaces, for code paths
            # that have no flag or variable (e.g. podman import's policy check);
            # (the first store's: the others' tools get theirs as flags and variables)
            self._ns.etc_files.setdefault(f"containers/{name}", text)

    def storage_ref(self, name: str) -> str:
        return f"containers-storage:[{self.driver}@{self.root}+{self.runroot}]{name}"

    def _run(
        self, argv: list[str], args: tuple[str, ...], **kw
    ) -> subprocess.CompletedProcess[bytes]:
        return run(self._ns.wrap([*argv, *args]), env=self.env, **kw)

    def buildah(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.buildah_argv, args, **kw)

    def podman(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.podman_argv, args, **kw)

    def skopeo(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.skopeo_argv, args, **kw)

    def artifact(self, path: Path, transport: str, ref: str) -> Artifact:
        """Record what skopeo reports for ``ref`` (see Artifact)."""
        return Artifact(
            path=path,
            transport=transport,
            ref=ref,
            manifest_raw=self.skopeo("inspect", "--raw", ref).stdout,
            config_raw=self.skopeo("inspect", "--config", "--raw", ref).stdout,
            files=index_files(path) if path.exists() else {},
        )

    def truth(self, ref: str) -> ImageTruth:
        inspect = json.loads(self.buildah("inspect", "--type", "image", ref).stdout)
        config_raw = self.skopeo("inspect", "--config", "--raw", self.storage_ref(ref)).stdout
        return ImageTruth(
            ref=ref,
            id="sha256:" + inspect["FromImageID"],
            config_raw=config_raw,
            inspect=inspect,
            history=json.loads(
                self.podman("history", "--no-trunc", "--format", "json", ref).stdout
            ),
            manifest_raw=self.skopeo("inspect", "--raw", self.storage_ref(ref)).stdout,
        )


@pytest.fixture(scope="session")
def containers_storage(
    engines_tmp: Path, engine_namespaces: Namespaces, build_context: BuildContext
) -> ContainersStorage:
    """Private containers-storage with localhost/busybox:local imported
    (``podman import`` of the same busybox root tar); see ContainersStorage."""
    require_engines("buildah", "podman", "skopeo", "unshare")
    cs = ContainersStorage(engines_tmp, engine_namespaces)
    if len(str(cs.runroot)) > 50:
        unavailable(f"engines: podman needs a runroot under 50 characters, not {cs.runroot}")
    cs.podman("import", "--quiet", str(build_context.base_tar), CS_BASE)
    return cs


@dataclass
class BuildahImages:
    """FULL_DOCKERFILE built by ``buildah bud --isolation chroot`` (buildah 1.28).

    ``default``  without --layers (buildah's default): every instruction is a
                 history entry, all ``empty_layer: true`` but the last, which
                 carries the one new layer; tagged BUILDAH_DEFAULT
    ``layers``   with ``--layers``: a layer per filesystem-changing instruction;
                 tagged BUILDAH_LAYERS
    ``base``     localhost/busybox:local as imported
    ``storage``  the ContainersStorage
    (each an ImageTruth; history is ``podman history --format json``)
    """

    default: ImageTruth
    layers: ImageTruth
    base: ImageTruth
    storage: ContainersStorage


def bud_args(cs: ContainersStorage, build_context: BuildContext) -> list[str]:
    """``buildah bud`` as every test build runs it: offline, chroot isolation, with the test
    build arguments (add ``-t NAME`` and the context)."""
    build_args = [
        a for k, v in build_context.build_args.items() for a in ("--build-arg", f"{k}={v}")
    ]
    # chroot isolation: no user namespace / network namespace / cgroup setup
    # needed, and then --network must not be given ("host" is implied).
    # buildah 1.39 raises RUN's open-files and process limits to 1048576 unless told a limit;
    # these machines allow a hard limit of 20000 files and no raising. buildah 1.28 first
    # lowers processes to containers.conf's 32768 and cannot raise them again. So RUN gets
    # limits no higher than either.
    ulimits = [
        f"--ulimit={name}={_lowered(limit, cap)}"
        for name, limit, cap in (
            ("nofile", resource.RLIMIT_NOFILE, None),
            ("nproc", resource.RLIMIT_NPROC, 32768),
        )
    ]
    return [
        "bud",
        "--quiet",
        "--isolation",
        "chroot",
        *ulimits,
        "--pull-never",
        "--signature-policy",
        str(cs.conf / "policy.json"),
        *build_args,
    ]


@pytest.fixture(scope="session")
def buildah(containers_storage: ContainersStorage, build_context: BuildContext) -> BuildahImages:
    """The full Dockerfile built by buildah, default and --layers; see BuildahImages."""
    cs = containers_storage
    common = bud_args(cs, build_context)
    cs.buildah(*common, "-t", BUILDAH_DEFAULT, str(build_context.full))
    cs.buildah(*common, "--layers", "-t", BUILDAH_LAYERS, str(build_context.full))
    return BuildahImages(
        default=cs.truth(BUILDAH_DEFAULT),
        layers=cs.truth(BUILDAH_LAYERS),
        base=cs.truth(CS_BASE),
        storage=cs,
    )


@dataclass
class PodmanSaves:
    """``podman save`` (podman 4.3) of the buildah images.

    ``docker_archive``, ``oci_archive``, ``oci_dir``   Artifacts of BUILDAH_DEFAULT
                     (``--format docker-archive`` converts the OCI config to a
                     Docker one; ``oci-dir`` is an OCI layout directory)
    ``saves``        image ref -> {"docker-archive"|"oci-archive"|"oci-dir": Artifact}
                     for BUILDAH_DEFAULT and BUILDAH_LAYERS
    ``history``      image ref -> ``podman history --no-trunc --format json``
    ``images``       image ref -> ImageTruth (as in ``buildah``)
    ``run(*args)``   runs podman with the private storage
    """

    saves: dict[str, dict[str, Artifact]]
    history: dict[str, list[dict]]
    images: dict[str, ImageTruth]
    storage: ContainersStorage

    @property
    def docker_archive(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["docker-archive"]

    @property
    def oci_archive(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["oci-archive"]

    @property
    def oci_dir(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["oci-dir"]

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self.storage.podman(*args, **kw)


def _podman_save(cs: ContainersStorage, ref: str, out: Path) -> dict[str, Artifact]:
    result = {}
    for fmt, transport, name in (
        ("docker-archive", "docker-archive", "docker-archive.tar"),
        ("oci-archive", "oci-archive", "oci-archive.tar"),
        ("oci-dir", "oci", "oci-dir"),
    ):
        path = out / name
        cs.podman("save", "--quiet", "--format", fmt, "-o", str(path), ref)
        # podman names the image in the oci index with the full ref
        skopeo_ref = (
            f"{transport}:{path}" if transport == "docker-archive" else f"{transport}:{path}:{ref}"
        )
        result[fmt] = cs.artifact(path, transport, skopeo_ref)
    return result


@pytest.fixture(scope="session")
def podman(buildah: BuildahImages, engines_tmp: Path) -> PodmanSaves:
    """``podman save`` outputs and ``podman history``; see PodmanSaves."""
    cs = buildah.storage
    saves, history = {}, {}
    for label, truth in (("default", buildah.default), ("layers", buildah.layers)):
        out = engines_tmp / "podman" / label
        out.mkdir(parents=True)
        saves[truth.ref] = _podman_save(cs, truth.ref, out)
        history[truth.ref] = truth.history
    images = {t.ref: t for t in (buildah.default, buildah.layers, buildah.base)}
    return PodmanSaves(saves, history, images, cs)


class PodmanService:
    """``podman system service`` serving the Docker-compatible (and libpod) API.

    ``url``      ``unix://<tmp>/podman/podman.sock`` (also ``str(service)``)
    ``socket``   that path
    ``images``   the images in its storage (ref -> ImageTruth from ``buildah``)
    ``log``      the service's log
    ``run(*args)`` runs the docker CLI (docker.io) against it
    ``api_get(path)`` GETs a Docker API path, e.g. ``/images/json``, and decodes it
    """

    def __init__(self, tmp: Path, cs: ContainersStorage, images: dict[str, ImageTruth]):
        self.dir = tmp / "podman-service"
        self.dir.mkdir()
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.log = self.dir / "service.log"
        self.images = images
        self.env = base_env() | {
            "DOCKER_HOST": self.url,
            "DOCKER_CONFIG": str(self.dir / "cli"),
            "DOCKER_API_VERSION": DOCKER_API_VERSION,
        }
        # --time=0: never exit for inactivity
        argv = cs._ns.wrap([*cs.podman_argv, "system", "service", "--time=0", self.url])
        self.daemon = Daemon("podman system service", argv, self.log, cs.env)

    def __str__(self) -> str:
        return self.url

    def start(self) -> None:
        self.daemon.start()
        self.daemon.wait_ready(
            lambda: self.socket.exists() and unix_http_get(self.socket, "/_ping", 5)[0] == 200
        )

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        cli = DOCKER_CLI if Path(DOCKER_CLI).exists() else "docker"
        return run([cli, *args], env=self.env, **kw)

    def api_get(self, path: str) -> object:
        status, body = unix_http_get(self.socket, f"/v{DOCKER_API_VERSION}{path}")
        if status != 200:
            raise EngineError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)


@pytest.fixture(scope="session")
def podman_service(buildah: BuildahImages, engines_tmp: Path) -> Iterator[PodmanService]:
    """podman's Docker-compatible API on a private socket; see PodmanService."""
    images = {t.ref: t for t in (buildah.default, buildah.layers, buildah.base)}
    service = PodmanService(engines_tmp, buildah.storage, images)
    try:
        service.start()
        yield service
    finally:
        service.daemon.stop()


# --------------------------------------------------------------------------
# skopeo


@dataclass
class SkopeoCopies:
    """skopeo (1.9) copies of reconstruct-test/full:1 from ``docker_saves.full``.

    ``source``          Artifact of the docker-archive it copied from
    ``oci``             ``oci:<dir>:1`` (OCI layout, tag in index.json annotation)
    ``oci_archive``     ``oci-archive:<file>:1``
    ``docker_archive``  ``docker-archive:<file>:reconstruct-test/full:1``
    ``dir``             ``dir:<dir>`` (manifest.json, version, blobs by hex name)
    ``all``             transport -> Artifact
    """

    source: Artifact
    oci: Artifact
    oci_archive: Artifact
    docker_archive: Artifact
    dir: Artifact

    @property
    def all(self) -> dict[str, Artifact]:
        return {a.transport: a for a in (self.oci, self.oci_archive, self.docker_archive, self.dir)}


@pytest.fixture(scope="session")
def skopeo(
    docker_saves: DockerSaves, containers_storage: ContainersStorage, engines_tmp: Path
) -> SkopeoCopies:
    """skopeo copies of the dockerd image; see SkopeoCopies."""
    cs = containers_storage
    out = engines_tmp / "skopeo"
    out.mkdir()
    src_path = docker_saves.full.path
    source_ref = f"docker-archive:{src_path}"
    targets = {
        "oci": (out / "oci", f"oci:{out / 'oci'}:1"),
        "oci-archive": (out / "oci-archive.tar", f"oci-archive:{out / 'oci-archive.tar'}:1"),
        "docker-archive": (
            out / "docker-archive.tar",
            f"docker-archive:{out / 'docker-archive.tar'}:{FULL}",
        ),
        "dir": (out / "dir", f"dir:{out / 'dir'}"),
    }
    made = {}
    for transport, (path, ref) in targets.items():
        cs.skopeo("copy", "--quiet", source_ref, ref)
        made[transport] = cs.artifact(path, transport, ref)
    return SkopeoCopies(
        source=cs.artifact(src_path, "docker-archive", source_ref),
        oci=made["oci"],
        oci_archive=made["oci-archive"],
        docker_archive=made["docker-archive"],
        dir=made["dir"],
    )


def _lowered(limit: int, cap: int | None) -> str:
    """`soft:hard` of this process's `limit`, neither above `cap`."""
    soft, hard = resource.getrlimit(limit)
    if cap is not None:
        hard = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    return f"{soft}:{hard}"

"""`docker-daemon:[REF]` — images in a running Docker or Podman engine, through the Engine API.

REF is what `docker image inspect` takes (name[:tag], name@digest, a short or long image ID); the
engine resolves it, so `library/`, `docker.io/` and ID prefixes behave exactly as with the docker
CLI. Nothing is ever pulled: an image that is not local is an error naming the closest local tags.
The engine is the one the docker SDK finds (DOCKER_HOST, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, the
default socket) unless `host` names another; Podman serves the same API (`podman system service`).

Two ways to read an image:

- fast (default): image inspect + history, two small requests; which history entries made a
  layer is inferred by history.py, with the classic builder's intermediate images as
  checkpoints when they exist, and every guessed step is marked (`Step.uncertain`).
- exact: the engine's export, streamed and read only up to the image's own config (and manifest)
  by export.py. Used when asked (`exact=True`), or by itself when the fast path is unsure
  and the image is small (EXACT_AUTO_LIMIT); otherwise a warning says that `--exact` exists.

This module is the source itself (references, engine access); diagnosis.py puts what went
wrong in words.
The docker SDK is imported inside `_connect` only: `reconstruct --help` and every other source
never pay for it (it costs about 0.15 s).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ...blob.digests import is_digest_prefix
from ...model import Image, Index, Reference, Target
from ...refs import closest_tags, normalized_name, split_reference
from ...text import human_size, parse_date
from ..base import Capabilities, Source, SourceError
from ..partial import image_from_config
from . import containerd
from .diagnosis import DEFAULT_HOST, api_message, describe_failure, explanation
from .export import image_from_export, read_export
from .history import HistoryEntry, evidence_from, infer_layers

# Seconds for one request (connect + each read); RECONSTRUCT_ENGINE_TIMEOUT overrides it.
DEFAULT_TIMEOUT = 30.0
# The export is prepared before its first byte is sent (dockerd copies every layer first).
EXPORT_TIMEOUT = 300.0
# Below this image size (the engine's `Size`, bytes) an uncertain fast path reads the export.
EXACT_AUTO_LIMIT = 200_000_000
# Intermediate images looked up to settle an uncertain history, at most.
MAX_PROBES = 64
GO_ZERO_YEAR = 1  # Go's zero time: the engine's way of saying "no date"
NO_IMAGE_ID = (
    "the engine keeps the containerd image store, whose API names images by their index or "
    "manifest: the Image ID and the compressed layers are not in it; --exact reads the image's "
    "own blobs"
)


# --- the source --------------------------------------------------------------------------------


@dataclass
class ExportStats:
    """For tests and benchmarks: what an exact read of one image cost."""

    image_id: str
    bytes_read: int
    members: int
    complete: bool


class EngineSource(Source):
    transport = "docker-daemon"
    capabilities = Capabilities(
        local_path=False,
        unhashable="an engine's API serves no blobs: save the image (docker save) and verify the archive",
    )

    def __init__(
        self,
        host: str | None = None,
        *,
        exact: bool | None = None,
        timeout: float | None = None,
        bare: bool = False,
    ):
        """`exact`: True always reads the export, False never, None when the fast path is unsure
        and the image is small. `bare`: the user typed no transport (errors say both readings)."""
        if timeout is None:
            timeout = float(os.environ.get("RECONSTRUCT_ENGINE_TIMEOUT") or DEFAULT_TIMEOUT)
        self.given_host = _host_url(host)
        self.exact = exact
        self.timeout = timeout
        self.bare = bare
        self.exports: list[ExportStats] = []  # one per exact read, for tests and benchmarks
        self._api: Any = None
        self._podman: bool | None = None
        self._info: dict[str, Any] | None = None
        # the containerd store's blobs when readable here (None: not), False: not looked yet
        self._content: Any = False

    @property
    def host(self) -> str:
        """The engine's address, for messages."""
        return self.given_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST

    # --- listing ----------------------------------------------------------------------------

    def references(self) -> list[Reference]:
        refs = []
        for summary in self._call(lambda api: api.images(), "list images") or []:
            image_id = summary.get("Id")
            tags = [t for t in summary.get("RepoTags") or [] if t and t != "<none>:<none>"]
            for repo_tag in tags:
                name, tag = split_reference(repo_tag)
                refs.append(Reference(name=name, tag=tag, digest=image_id, selector=repo_tag))
            if not tags:
                refs.append(Reference(digest=image_id, selector=image_id))
        return refs

    def get(self, selector: str | None = None) -> Target:
        try:
            return self._get(selector)
        except SourceError as error:
            if not self.bare:
                raise
            why = str(error).removeprefix("docker-daemon: ")
            raise SourceError(f"{selector} is no file here, and as an image: {why}") from None

    def _get(self, selector: str | None) -> Target:
        if not selector:
            refs = self.references()
            if len(refs) != 1:
                names = ", ".join(r.selector or "?" for r in refs[:8])
                more = f" and {len(refs) - 8} more" if len(refs) > 8 else ""
                held = f"holds {len(refs)} images ({names}{more})" if refs else "holds no image"
                raise SourceError(
                    f"docker-daemon: the engine {held}; name one: docker-daemon:NAME[:TAG] "
                    "(or --all)"
                )
            selector = refs[0].selector
        assert selector is not None
        inspect = self._inspect(selector)
        if self._containerd_store():
            return self._from_containerd(selector, inspect)
        exact = self.exact
        image = self._exact(inspect) if exact else self._fast(inspect)
        uncertain = sum(1 for step in image.steps if step.uncertain)
        size = inspect.get("Size") if isinstance(inspect.get("Size"), int) else None
        if exact is None and uncertain and size is not None and size < EXACT_AUTO_LIMIT:
            try:
                image = self._exact(inspect)
            except SourceError as error:  # the inferred history stands, and says so
                image.warnings.append(f"reading the image's own config failed: {error}")
        elif uncertain:
            cost = f" (streams the image: {human_size(size).split(' (')[0]})" if size else ""
            image.warnings.append(
                f"the Engine API does not record which steps made a layer: {uncertain} "
                f"step(s) are inferred and marked; --exact reads the image's own config{cost}"
            )
        name, tag, pull_digest = _naming(selector, inspect)
        if pull_digest and image.manifest_digest is None:
            image.manifest_digest = pull_digest
            image.warnings.append(
                "the pull digest is the engine's RepoDigest: for a multi-platform image it is "
                "the index's, not this platform's manifest's"
            )
        return Target(Reference(name=name, tag=tag, digest=pull_digest, selector=selector), image)

    # --- the containerd image store -----------------------------------------------------------

    def _from_containerd(self, selector: str, inspect: dict[str, Any]) -> Target:
        """The image's own chain (engine/containerd.py): from the content store when it is
        readable here, else from the export (unless `exact` is False and then the API alone,
        which knows no Image ID on this store)."""
        target = str(inspect.get("Id") or "")
        name, tag, _ = _naming(selector, inspect)
        root: Image | Index | None = None
        store = self._content_store()
        if store is not None:
            root = containerd.from_store(store, target)
        size = inspect.get("Size") if isinstance(inspect.get("Size"), int) else None
        if root is None and (self.exact or (self.exact is None and (size or 0) < EXACT_AUTO_LIMIT)):
            root = self._export_chain(target)
        if root is None:  # fast, from the API only
            root = self._api_chain(target, inspect)
        if root is None:
            root = self._fast(inspect, containerd_store=True)
        return Target(Reference(name=name, tag=tag, digest=target, selector=selector), root)

    def _api_chain(self, target: str, inspect: dict[str, Any]) -> Index | None:
        """From API 1.48 on: the index from `manifests` (every platform and attestation the
        engine holds), each image's config and history asked per `platform` (1.49 for the
        inspect; before, the host platform's is the top inspect's). None on an older API."""
        if _version_tuple(self._connect().api_version) < (1, 48):
            return None
        listed = self._get_json(f"/images/{quote(target, safe='')}/json", {"manifests": "1"})
        if not isinstance(listed.get("Manifests"), list):
            return None
        per_platform = _version_tuple(self._connect().api_version) >= (1, 49)

        def image_of(platform: dict[str, Any]) -> Image | None:
            query = {"platform": json.dumps(platform, separators=(",", ":"))}
            if per_platform:
                seen = self._get_json(f"/images/{quote(target, safe='')}/json", query)
            elif containerd.same_platform(platform, inspect):
                seen = inspect
            else:
                return None  # an older engine shows one platform's config: the host's
            history = self._get_json(f"/images/{quote(target, safe='')}/history", query)
            return self._fast(seen, containerd_store=True, history=history)

        return containerd.index_from_manifests(target, listed, image_of)

    def _get_json(self, path: str, params: dict[str, str]) -> Any:
        api = self._connect()
        url = f"{api.base_url}/v{api.api_version}{path}"
        response = self._call(lambda client: client.get(url, params=params), f"read {path}")
        if response.status_code != 200:
            raise SourceError(f"docker-daemon: GET {path}: {explanation(response)}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(
                f"docker-daemon: GET {path}: the engine's answer is no JSON"
            ) from None

    def _containerd_store(self) -> bool:
        return containerd.uses_containerd_store(self._engine_info())

    def _engine_info(self) -> dict[str, Any]:
        if self._info is None:
            try:
                info = self._call(lambda api: api.info(), "read the engine's info")
            except SourceError:
                info = None  # an engine that serves no /info is read as the classic store
            self._info = info if isinstance(info, dict) else {}
        return self._info

    def _content_store(self) -> Any:
        if self._content is False:
            self._content = containerd.local_content_store(self._engine_info())
        return self._content

    def _export_chain(self, target: str) -> Image | Index:
        response = self._export(target)
        read = 0

        def counted(size: int) -> bytes:
            nonlocal read
            data = response.raw.read(size)
            read += len(data)
            return data

        try:
            root, complete, members = containerd.from_export(counted, target)
        except SourceError:
            raise
        except Exception as error:
            raise self._failure(error, f"export {target}") from None
        finally:
            response.close()
        self.exports.append(ExportStats(target, read, members, complete))
        return root

    def exported(self, references: list[Reference], observe: Any) -> Source | None:
        """The images' `docker save` archive from the engine (`GET /images/get`), read once as
        it streams, every member handed to `observe` (the layers listed as they pass)."""
        from ...blob.tar import TarIndex
        from ..dockerarchive import DockerArchiveSource

        names = list(dict.fromkeys(ref.selector or ref.digest or "" for ref in references))
        api = self._connect()
        label = f"the engine's export of {', '.join(names)}"
        try:
            response = api.get(
                f"{api.base_url}/v{api.api_version}/images/get",
                params={"names": names},
                stream=True,
                timeout=(self.timeout, EXPORT_TIMEOUT),
            )
        except Exception as error:  # requests' and urllib3's errors, without importing them here
            raise self._failure(error, "export") from None
        try:
            if response.status_code != 200:
                raise SourceError(
                    f"docker-daemon: the engine refused to export: {explanation(response)}"
                )
            tar = TarIndex.of_stream(response.raw.read, label, observe)
        finally:
            response.close()
        return DockerArchiveSource(label, tar=tar)

    def _export(self, image_id: str) -> Any:
        api = self._connect()
        url = f"{api.base_url}/v{api.api_version}/images/{quote(image_id, safe='')}/get"
        try:
            response = api.get(url, stream=True, timeout=(self.timeout, EXPORT_TIMEOUT))
        except Exception as error:  # requests' and urllib3's errors, without importing them here
            raise self._failure(error, f"export {image_id}") from None
        if response.status_code != 200:
            response.close()
            raise SourceError(
                f"docker-daemon: the engine refused to export {image_id}: {explanation(response)}"
            )
        return response

    # --- fast path --------------------------------------------------------------------------

    def _fast(
        self, inspect: dict[str, Any], containerd_store: bool = False, history: Any = None
    ) -> Image:
        image_id = inspect.get("Id") or ""
        if history is None:
            history = self._call(
                lambda api: api.history(image_id), f"read the history of {image_id}"
            )
        entries = [_entry(item) for item in reversed(history or []) if isinstance(item, dict)]
        if containerd_store:  # there `Size` is the snapshot's usage, never the layer's
            entries = [replace(entry, size=-1) for entry in entries]
        diff_ids = [
            d for d in (inspect.get("RootFS") or {}).get("Layers") or [] if isinstance(d, str)
        ]
        settings = inspect.get("Config") if isinstance(inspect.get("Config"), dict) else {}
        windows = inspect.get("Os") == "windows"
        evidence = evidence_from(entries, len(diff_ids), settings.get("Shell"), windows)
        guesses = infer_layers(evidence)
        if any(g.uncertain for g in guesses) and self._is_podman():
            # Podman reports a layer's tar size, 1 KiB even for an empty one: 0 means no layer
            guesses = infer_layers(replace(evidence, sizes_exact=True))
        if any(g.uncertain for g in guesses):
            marked = [i for i, guess in enumerate(guesses) if guess.uncertain]
            checkpoints = self._checkpoints(entries, image_id, diff_ids, marked[0], marked[-1])
            if checkpoints:
                guesses = infer_layers(evidence, checkpoints)
        config = {
            "architecture": inspect.get("Architecture"),
            "os": inspect.get("Os"),
            "os.version": inspect.get("OsVersion") or None,
            "variant": inspect.get("Variant") or None,
            "created": inspect.get("Created"),
            "author": inspect.get("Author") or None,
            "docker_version": inspect.get("DockerVersion") or None,
            # the engine spells unset strings as "": the config leaves them out
            "config": {k: v for k, v in settings.items() if v not in ("", None)},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {
                    "created": _rfc3339(entry.created),
                    "created_by": entry.created_by,
                    "comment": entry.comment,
                    "empty_layer": guess.empty_layer,
                }
                for entry, guess in zip(entries, guesses, strict=True)
            ],
        }
        image = image_from_config(config, config_digest=image_id or None)
        for step, guess in zip(image.steps, guesses, strict=True):
            step.uncertain = guess.uncertain
        if containerd_store:  # there `Id` is no config digest, and the version the daemon's
            image.config_digest = None
            image.docker_version = None
            image.warnings.append(NO_IMAGE_ID)
        return image

    def _checkpoints(
        self, entries: list[HistoryEntry], image_id: str, diff_ids: list[str], first: int, last: int
    ) -> dict[int, int]:
        """Layer counts at entries whose `Id` is an intermediate image that really ends there.

        dockerd names each entry with the parent chain's image, assuming one entry per image
        (true for the classic builder, not after `--squash` or for Podman): an image counts only
        if its layers are a prefix of ours and it was created in that entry's second. Only the
        entries from the `first` to the `last` uncertain one can settle anything.
        """
        found: dict[int, int] = {}
        probes = 0
        for i, entry in enumerate(entries[:-1]):
            if not first <= i <= last or not entry.id or entry.id == image_id:
                continue
            if probes >= MAX_PROBES:
                break
            probes += 1
            try:
                parent = self._call(lambda api, ref=entry.id: api.inspect_image(ref), "inspect")
            except SourceError:
                continue
            layers = (parent.get("RootFS") or {}).get("Layers") or []
            created = parse_date(parent.get("Created"))
            if (
                layers == diff_ids[: len(layers)]
                and created is not None
                and entry.created is not None
                and int(created.timestamp()) == entry.created
            ):
                found[i] = len(layers)
        return found

    # --- exact path -------------------------------------------------------------------------

    def _exact(self, inspect: dict[str, Any]) -> Image:
        image_id = inspect.get("Id") or ""
        windows = inspect.get("Os") == "windows"
        response = self._export(image_id)
        try:
            found = read_export(
                lambda size: response.raw.read(size), image_id, want_layer_sources=windows
            )
        except SourceError:
            raise
        except Exception as error:
            raise self._failure(error, f"export {image_id}") from None
        finally:
            response.close()  # stops the engine's export: the rest is never transferred
        self.exports.append(ExportStats(image_id, found.bytes_read, found.members, found.complete))
        return image_from_export(found, image_id)

    # --- engine access ----------------------------------------------------------------------

    def _inspect(self, reference: str) -> dict[str, Any]:
        api = self._connect()
        import docker.errors

        try:
            return api.inspect_image(reference)
        except docker.errors.NotFound:
            raise SourceError(self._not_found(reference)) from None
        except docker.errors.APIError as error:
            raise SourceError(f"docker-daemon: {reference}: {api_message(error)}") from None
        except Exception as error:
            raise self._failure(error, f"inspect {reference}") from None

    def _not_found(self, reference: str) -> str:
        tags = [
            t
            for summary in self._call(lambda api: api.images(), "list images") or []
            for t in summary.get("RepoTags") or []
            if t and t != "<none>:<none>"
        ]
        close = closest_tags(reference, tags)
        hint = f"closest local tags: {', '.join(close)}" if close else "no local tag is close"
        return (
            f"docker-daemon: no image {reference!r} in the engine at {self.host} "
            f"(reconstruct never pulls); {hint}"
        )

    def _call(self, action: Callable[[Any], Any], what: str) -> Any:
        api = self._connect()
        import docker.errors

        try:
            return action(api)
        except docker.errors.APIError as error:
            raise SourceError(f"docker-daemon: cannot {what}: {api_message(error)}") from None
        except Exception as error:
            raise self._failure(error, what) from None

    def _is_podman(self) -> bool:
        """Podman's Docker-compatible service names itself in `GET /version`'s components."""
        if self._podman is None:
            version = self._call(lambda api: api.version(), "read the engine's version") or {}
            names = [str(c.get("Name", "")) for c in version.get("Components") or []]
            self._podman = any("podman" in name.lower() for name in names)
        return self._podman

    def _connect(self) -> Any:
        if self._api is not None:
            return self._api
        try:
            import docker
            import docker.errors
            from docker.utils import kwargs_from_env
        except ImportError:
            raise SourceError(
                "docker-daemon: needs the docker package (pip install docker)"
            ) from None

        params = kwargs_from_env()
        if self.given_host:
            params["base_url"] = self.given_host
        try:
            self._api = docker.APIClient(version="auto", timeout=self.timeout, **params)
        except docker.errors.InvalidVersion:
            raise SourceError(
                f"docker-daemon: the engine at {self.host} speaks an Engine API older than 1.24 "
                "(Docker 1.12): too old to read"
            ) from None
        except Exception as error:
            raise self._failure(error, "connect") from None
        return self._api

    def _failure(self, error: BaseException, what: str) -> SourceError:
        return describe_failure(error, self.host, self.timeout, what)


# --- small helpers -----------------------------------------------------------------------------


def _version_tuple(version: Any) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return (0,)


def _host_url(host: str | None) -> str | None:
    if host and host.startswith("/"):
        return "unix://" + host  # a bare socket path, as `podman info` prints it
    return host or None


def _entry(item: dict[str, Any]) -> HistoryEntry:
    image_id = item.get("Id")
    size = item.get("Size")
    return HistoryEntry(
        created=item.get("Created") if isinstance(item.get("Created"), int) else None,
        created_by=item.get("CreatedBy") or None,
        comment=item.get("Comment") or None,
        size=size if isinstance(size, int) else -1,
        id=image_id if isinstance(image_id, str) and image_id.startswith("sha256:") else None,
    )


def _rfc3339(seconds: int | None) -> str | None:
    """The history endpoint's whole seconds as the config would spell them (no fraction)."""
    if seconds is None:
        return None
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return None if moment.year <= GO_ZERO_YEAR else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _naming(selector: str, inspect: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(name, tag, pull digest): the reference given where it names the image, else RepoTags."""
    tags = [t for t in inspect.get("RepoTags") or [] if t and t != "<none>:<none>"]
    digests = [d for d in inspect.get("RepoDigests") or [] if isinstance(d, str) and "@" in d]
    image_id = str(inspect.get("Id") or "").removeprefix("sha256:")
    name = tag = None
    if is_digest_prefix(selector) and image_id.startswith(selector.removeprefix("sha256:")):
        if tags:
            name, tag = split_reference(tags[0])
        elif digests:
            name = digests[0].split("@", 1)[0]
    else:
        by_digest = "@" in selector
        name, tag = split_reference(selector.split("@", 1)[0])
        tag = tag or (None if by_digest else "latest")
        # the engine's own spelling of the same name (`localhost/x` in Podman, `x` in Docker)
        same = [t for t in tags if _same_name(t, name or "")]
        exact = [t for t in same if split_reference(t)[1] == tag]
        if exact or (by_digest and same):
            name, tag = split_reference((exact or same)[0])
    pull = None
    if digests:
        mine = [d for d in digests if name and _same_name(d.split("@", 1)[0], name)]
        pull = (mine or digests)[0].split("@", 1)[1]
    return name, tag, pull


def _same_name(reference: str, name: str) -> bool:
    """`docker.io/library/x:1` names `x`; Podman's `localhost/a/b:1` names `a/b`."""
    theirs = normalized_name(split_reference(reference)[0] or "")
    return theirs == normalized_name(name) or theirs == f"localhost/{name}"

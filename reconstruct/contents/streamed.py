"""Layers listed while an archive that can be read only once streams past (standard input, a
compressed `docker save`).

The archive's one pass (TarIndex.open with an observer) pushes each member's data; a layer's
listing pulls it (blob/tarformat.py). Each member is listed in a thread of its own, fed through
a short queue: the pass waits for the listing, so memory holds a few chunks, and every layer
is inflated once, during the pass. What each member lists to (or why it does not: a config,
a manifest) is kept by member name, entries only (and the small files `keep` wants), for
where.py to hand out once the source knows which member is which step's layer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ..blob.tar import list_stream
from ..blob.tarformat import Listed
from ..errors import SourceError
from .where import Keep

QUEUE_CHUNKS = 8  # chunks between the pass and a listing


class StreamedListings:
    """The observer of an archive's one pass (`observe`), and what each member listed to."""

    def __init__(self, keep: Keep | None = None):
        self.keep = keep
        self.listings: dict[str, list[Listed] | str] = {}  # member name → entries, or why not
        self._open: _Lister | None = None

    def observe(self, name: str, size: int) -> Callable[[memoryview], None] | None:
        self._finish()
        lister = _Lister(name, size, self.keep, self.listings)
        self._open = lister
        return lister.feed

    def _finish(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def close(self) -> None:
        """After the pass: a member it ended inside of is listed as far as it went."""
        self._finish()


class _Lister:
    def __init__(self, name: str, size: int, keep: Keep | None, into: dict):
        self.name, self.left = name, size
        self._chunks: queue.Queue[bytes | None] = queue.Queue(QUEUE_CHUNKS)
        self._stopped = threading.Event()  # the listing ended early: drop what comes
        self._into = into
        self._thread = threading.Thread(target=self._list, args=(keep,), daemon=True)
        self._thread.start()

    def feed(self, data: memoryview) -> None:
        self.left -= len(data)
        if not self._stopped.is_set():
            self._put(bytes(data))
        if self.left <= 0:
            self.close()

    def _put(self, item: bytes | None) -> None:
        while not self._stopped.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        if self._thread.is_alive():
            self._put(None)
            self._thread.join()

    def _list(self, keep: Keep | None) -> None:
        def chunks():
            while (chunk := self._chunks.get()) is not None:
                yield chunk

        try:
            self._into[self.name] = list(list_stream(chunks(), self.name, keep))
        except (SourceError, OSError) as error:  # not a layer, or a broken one: said if asked
            self._into[self.name] = str(error) or type(error).__name__
        except Exception as error:
            self._into[self.name] = f"{self.name} cannot be listed ({type(error).__name__})"
        finally:
            self._stopped.set()

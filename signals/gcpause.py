"""Bulk work without full garbage collections: the cyclic collector paused, then young only.

A burst of allocations (a watcher round's 10,000 subscribers and their alerts, a summary
fan-out) promotes objects into the old generations and sets off full collections, each a
walk of every object allocated since start-up that holds the GIL — and so the event loop —
for 30–70 ms. Inside `young_collections_only()` the automatic collector is off; when the last
such block ends, one young-generation pass frees the cycles the work left (a few ms).
Reference counting frees everything else as usual. Reentrant, and shared across threads.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Pause automatic collections for the block; collect the young generation after."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            last = _depth == 0
            if last and _was_enabled:
                gc.enable()
        if last:
            gc.collect(0)

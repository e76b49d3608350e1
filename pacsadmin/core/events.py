"""Change events for Qt-free models (the shape of napari's ``EventedModel`` events).

A model owns :class:`Event` attributes; views connect callbacks and the model emits when
its state changes.  Events are synchronous and single-threaded: a model and its observers
live on one thread (the GUI thread, for the viewer).  Values sent are the new state, so an
observer never needs to ask the model back.  See docs/architecture.md, "Models and views".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Event(Generic[T]):
    """One kind of change; ``connect(cb)`` then ``emit(value)`` calls ``cb(value)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], None]] = []

    def connect(self, callback: Callable[[T], None]) -> Callable[[T], None]:
        """Add an observer (once); returns it, so this also works as a decorator."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for cb in list(self._callbacks):
            cb(value)

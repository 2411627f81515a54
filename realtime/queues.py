"""A bounded queue with an explicit drop policy.

``queue.Queue`` can only block or raise when full. Live video needs the opposite of blocking:
when the consumer falls behind, the *oldest* frame is stale and must go so latency stays bounded,
and the user must see how many went. Files need lossless blocking. Both wait on a condition
variable; nothing polls.
"""

from __future__ import annotations

import collections
import enum
import threading
from typing import Any


class DropPolicy(enum.Enum):
    BLOCK = "block"  # files: the producer waits; nothing is ever lost
    LATEST = "latest"  # live: drop the oldest droppable item, count it


class QueueClosed(Exception):
    """Raised to a waiting producer or consumer once the queue is cancelled (a worker failed or stop)."""


class FrameQueue:
    """Bounded FIFO shared by one producer and one consumer thread.

    Items whose class sets ``droppable = False`` (end of stream, failures, audio packets) are never
    dropped, even under ``LATEST``; if the queue is full of such items the producer waits.
    """

    def __init__(self, maxsize: int, policy: DropPolicy) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.policy = policy
        self.dropped = 0
        self.high_water = 0
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._cancelled = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: Any) -> None:
        with self._cond:
            while len(self._items) >= self.maxsize:
                if self._cancelled:
                    raise QueueClosed
                if (self.policy is DropPolicy.LATEST and getattr(item, "droppable", False)
                        and self._drop_oldest()):
                    break
                self._cond.wait()
            if self._cancelled:
                raise QueueClosed
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()

    def put_final(self, item: Any) -> None:
        """Append end of stream or a failure without waiting, even past ``maxsize``.

        These are the last items a producer sends; they must never block behind a consumer that
        is gone or be refused by a full queue, or shutdown would hang.
        """
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def _drop_oldest(self) -> bool:
        for i, queued in enumerate(self._items):
            if getattr(queued, "droppable", False):
                del self._items[i]
                self.dropped += 1
                return True
        return False

    def get(self, timeout: float | None = None) -> Any:
        """Next item; waits for one. With ``timeout``, raises ``TimeoutError`` when none came."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._cancelled, timeout):
                raise TimeoutError
            if not self._items:
                raise QueueClosed
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def cancel(self) -> None:
        """Wake every waiter with ``QueueClosed``; used when a worker fails or on hard stop."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

"""Keeps one process's search indexes current with corpus changes made by others: the CLI
ingesting into a running app's data folder, or another app replica on the same database.

Every change moves the store's generation counter in the same transaction as the change
(tutor/store.py), so reading that one number tells whether the indexes are behind; a
refresh then reads only the chunks added since and drops those gone. A store that can
signal changes (``wait_for_change``: PostgreSQL's LISTEN/NOTIFY) wakes the loop at once;
the counter is still read every ``interval_s``, so a lost signal only costs that delay.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class CorpusSync:
    def __init__(self, index, interval_s: float = 1.0):
        self.index = index
        self.interval_s = max(0.05, float(interval_s))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0  # how many times another process's change was caught up with

    def start(self) -> CorpusSync:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="corpus-sync", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def check(self) -> bool:
        """Catch up when the store has moved on; returns whether it did."""
        if self.index.store.generation == self.index.generation:
            return False
        self.index.refresh()
        self.refreshes += 1
        return True

    def _run(self) -> None:
        wait = getattr(self.index.store, "wait_for_change", None)
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - a database restart must not end the loop
                log.warning("corpus sync: %s; trying again", exc)
            if wait is not None:
                try:
                    wait(self.interval_s)
                    continue
                except Exception:  # noqa: BLE001 - the signal is an optimisation; poll instead
                    pass
            self._stop.wait(self.interval_s)

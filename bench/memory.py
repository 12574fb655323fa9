"""Peak memory of a process together with its descendants (an import's worker pool), sampled with psutil.

``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` gives the largest single process ever waited for, not the
sum of processes alive at once: an import's main process and its two workers can together hold far more than
the largest of them. ``TreePeak`` samples the whole tree and reports both sums:

* ``peak_rss_mib``: the largest sum of resident set sizes seen, MiB. An upper bound: pages a forked worker
  still shares with its parent (libraries, the interpreter) are counted once per process.
* ``peak_pss_mib``: the largest sum of proportional set sizes, MiB: shared pages split between the processes
  sharing them, so the sum is what the tree costs the machine.
* ``peak_rss_largest_mib``: the largest single process's RSS, MiB (what ``ru_maxrss`` reports).

RSS is sampled every ``interval`` seconds (default 0.05 s; ``statm``, microseconds). Listing the descendants (a
scan of /proc, about a millisecond) and PSS (the kernel walks each process's page tables, about 3 ms for a 300 MiB
process) cost CPU the measured import would miss on a 2-core machine, so both happen every ``pss_interval``
seconds (default 0.5 s; workers that start and end within it are missed). A sample misses a peak shorter than
its interval: the figures are lower bounds of the true peaks by at most one interval's growth.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import psutil

MIB = 1024 * 1024


class TreePeak:
    """Context manager sampling process ``pid`` and its descendants in a background thread until exit.

    Usage: ``with TreePeak(proc.pid) as peak: ...; peak.figures()`` -> dict of the three peaks above (MiB).
    """

    def __init__(self, pid: int, interval: float = 0.05, pss_interval: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.interval, self.pss_every = interval, max(1, round(pss_interval / interval))
        self.rss = self.pss = self.largest = 0
        self._tree: list[psutil.Process] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            self._sample(pss=count % self.pss_every == 0)
            count += 1
            self._stop.wait(self.interval)

    def _sample(self, pss: bool) -> None:
        rss = proportional = 0
        if pss:
            try:
                self._tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:  # the root has exited
                return
        for process in self._tree:
            try:
                resident = process.memory_info().rss
                proportional += process.memory_full_info().pss if pss else 0
            except psutil.Error:  # exited between listing and reading
                continue
            rss += resident
            self.largest = max(self.largest, resident)
        self.rss, self.pss = max(self.rss, rss), max(self.pss, proportional)

    def figures(self) -> dict[str, Any]:
        """The peaks seen so far, MiB, rounded to 0.1."""
        return {"peak_rss_mib": round(self.rss / MIB, 1), "peak_pss_mib": round(self.pss / MIB, 1),
                "peak_rss_largest_mib": round(self.largest / MIB, 1)}

"""Timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import resource
import threading
import time

import numpy as np


def threads_of(settings) -> int:
    return settings.threads or os.cpu_count() or 1


def latency(seconds: list[float]) -> dict:
    """p50/p95/mean in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None}
    ms = np.asarray(seconds) * 1000
    return {"n": len(seconds), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean())}


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def ratio(a, b) -> float | None:
    return float(a) / float(b) if a is not None and b else None


def rss_bytes() -> int:
    """Resident memory of this process now."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """Highest resident memory of this process since it started (Linux: VmHWM)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


def available_bytes() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """Peak resident memory during a ``with`` block, sampled every 20 ms (ru_maxrss only
    ever grows, so it cannot show the peak of one phase)."""

    def __init__(self, every: float = 0.02):
        self.every = every
        self.start = self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> RssSampler:
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def memory_bandwidth(mb: int = 256, repeats: int = 5) -> float:
    """Bytes per second of a large numpy copy (counted as read + write), best of a few.
    The copy runs on one core; decoding reads weights on all threads, so this is a
    slightly low estimate of what the model can reach."""
    n = mb * 1024 * 1024 // 8
    src = np.ones(n, np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # touch every page first
    best = min(timed(np.copyto, dst, src)[0] for _ in range(repeats))
    return 2 * src.nbytes / best


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "-"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "ram_gb": round(ram, 1),
            "torch": torch_version, "python": platform.python_version(),
            "load_avg_1min_at_start": load, "date": time.strftime("%Y-%m-%d %H:%M")}

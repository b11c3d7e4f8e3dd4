"""Evicting the page cache of the agent's own files, so peak memory is measured from a cold start.

``VmHWM`` counts file-backed pages mapped into the process as well as its own memory. How many of
a shared library's pages a process maps depends on the page cache: on kernels that cache files in
large folios (ext4 since Linux 6.16), a library read earlier in one go (by pip, a checksum, an
earlier run) is mapped a whole folio at a time, so ``import cv2`` alone costs 24 or 50 MiB of
RSS, and the agent's peak 185 or 210-239 MiB, by what ran before (docs/PERFORMANCE.md,
"Known limits"). A box that has just booted starts cold; so does the benchmark, by asking the
kernel to drop its cached pages of the files the agent maps (``posix_fadvise`` with
``POSIX_FADV_DONTNEED``: no root needed; clean pages only; pages another process has mapped
stay).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

SUFFIXES = (".so", ".onnx")
"""Files the agent maps or reads whole: shared libraries (``*.so``, ``*.so.N``) and models."""


def _mapped_kind(path: Path) -> bool:
    name = path.name
    return name.endswith(SUFFIXES) or ".so." in name


def agent_files(repo: Path) -> list[Path]:
    """The shared libraries of this Python environment's site-packages and the shipped models."""
    roots = [Path(p) for p in sys.path if p.endswith("site-packages")] + [repo / "models"]
    out: list[Path] = []
    for root in roots:
        if root.is_dir():
            out.extend(p for p in root.rglob("*") if p.is_file() and _mapped_kind(p))
    return sorted(set(out))


def evict(paths: Iterable[Path]) -> int:
    """Drop the page cache of each file; returns the bytes of the files it was asked to drop."""
    total = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return total

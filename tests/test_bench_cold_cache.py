"""``bench.cold_cache``: the benchmark drops the page cache of the agent's libraries and models."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import tempfile
from pathlib import Path

from bench.cold_cache import agent_files, evict
from tests.conftest import REPO


def _cached_pages(path: Path) -> int:
    """Pages of ``path`` in the page cache: ``mincore`` over a read-only mapping of it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            assert libc.mincore(address, size, vec) == 0, os.strerror(ctypes.get_errno())
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)
    return sum(v & 1 for v in vec)


def test_the_agent_files_are_its_libraries_and_models() -> None:
    names = {p.name for p in agent_files(REPO)}
    assert "mask-classifier.onnx" in names
    assert any(n.startswith("cv2") and ".so" in n for n in names)
    assert any(n.startswith("onnxruntime_pybind11_state") for n in names)


def test_evict_drops_a_read_file_from_the_page_cache() -> None:
    # beside the environment's libraries (a tmpfs /tmp keeps its pages: they are the file)
    with tempfile.TemporaryDirectory(dir=sys.prefix) as d:
        _read_then_evict(Path(d))


def _read_then_evict(tmp_path: Path) -> None:
    path = tmp_path / "lib.so"
    path.write_bytes(os.urandom(1 << 20))
    with path.open("rb") as f:
        os.fsync(f.fileno())  # clean pages can be dropped, dirty ones cannot
    path.read_bytes()
    before = _cached_pages(path)
    assert evict([path, tmp_path / "missing.so"]) == 1 << 20
    after = _cached_pages(path)
    assert before > 0
    assert after < before

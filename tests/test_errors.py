"""One exception hierarchy per package (issue 18): every exception class a package of ``agent/``
defines derives from one base that package defines, named as an exception (``...Error``).

A package with several exceptions keeps its base in ``errors.py`` at its lowest layer
(:mod:`agent.vision.errors`, :mod:`agent.wire.errors`, :mod:`agent.cli.errors`), so a caller can
catch everything the package raises at once; the subclasses keep the standard bases their callers
catch (``ValueError``, ``sqlite3.Error``). A package with one exception has it as its base.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sqlite3

import pytest

import agent
from agent.cli.errors import CliError
from agent.cli.preview import PreviewError
from agent.cli.status import StatusClientError
from agent.vision.capture.frames import SourceUnavailableError
from agent.vision.errors import VisionError
from agent.vision.inference.families.preprocess import FrameError
from agent.vision.inference.integrity_reference import ReferenceFileError
from agent.vision.manifest import ModelError
from agent.wire.contract import PayloadTooLargeError
from agent.wire.errors import WireError
from agent.wire.outbox_faults import NotOpenError, OutboxError, StorageError
from agent.wire.storage import DamagedError


def _exceptions_by_package() -> dict[str, list[type[BaseException]]]:
    """Every exception class defined in ``agent/``, by top-level package (``agent.wire``...)."""
    found: dict[str, list[type[BaseException]]] = {}
    for info in pkgutil.walk_packages(agent.__path__, "agent."):
        if info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, BaseException):
                package = ".".join(info.name.split(".")[:2])
                found.setdefault(package, []).append(cls)
    return found


def _in(package: str, cls: type) -> bool:
    return cls.__module__ == package or cls.__module__.startswith(package + ".")


def test_every_package_has_one_exception_base_named_as_an_exception() -> None:
    found = _exceptions_by_package()
    assert {"agent.vision", "agent.wire", "agent.cli"} <= set(found)
    for package, classes in found.items():
        roots = {c for c in classes if not any(_in(package, b) for b in c.__mro__[1:])}
        names = sorted(c.__qualname__ for c in roots)
        assert len(roots) == 1, (
            f"{package} has {len(roots)} unrelated exception bases {names}: derive them from one "
            f"base in {package.replace('.', '/')}/errors.py (tests/test_errors.py)"
        )
        (root,) = roots
        assert root.__name__.endswith("Error"), f"{package}: name its base ...Error, not {names}"
        for cls in classes:
            assert issubclass(cls, root), f"{cls.__module__}.{cls.__qualname__} is no {root}"


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (ModelError, VisionError),
        (ReferenceFileError, VisionError),
        (SourceUnavailableError, VisionError),
        (FrameError, VisionError),
        (OutboxError, WireError),
        (StorageError, WireError),
        (NotOpenError, WireError),
        (DamagedError, WireError),
        (PayloadTooLargeError, WireError),
        (PreviewError, CliError),
        (StatusClientError, CliError),
    ],
)
def test_the_bases_are_the_packages(cls: type[BaseException], base: type[BaseException]) -> None:
    assert issubclass(cls, base)


def test_the_standard_bases_callers_catch_stay() -> None:
    """The handlers that catch ``sqlite3.Error`` or ``ValueError`` still see these."""
    with pytest.raises(sqlite3.OperationalError):
        raise NotOpenError("not open")
    with pytest.raises(sqlite3.DatabaseError):
        raise DamagedError("damaged")
    with pytest.raises(ValueError, match="bad frame"):
        raise FrameError("bad frame")
    with pytest.raises(ValueError, match="too large"):
        raise PayloadTooLargeError("too large")
    assert OutboxError("opening failed", "disk full").cause == "disk full"

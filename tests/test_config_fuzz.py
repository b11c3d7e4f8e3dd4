"""The whole config schema fuzzed through the real ``triage-agent config check`` (in process).

Every field of every section (``agent.cli.configdoc.field_paths``) gets wrong types, values at and
just past its bounds, and random TOML values (scalars, arrays, tables, dates), written as a real TOML
file and checked with ``main(["config", "check", FILE])``: the exit status is 0 or 78, never a
traceback, and a refusal names the field. Whole random documents and random bytes (with and
without a byte-order mark) go through the same path. Bounded example counts keep it to seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from agent.cli.configdoc import field_paths
from agent.cli.main import main
from agent.config import EX_CONFIG, AgentConfig
from agent.zones.config import ZoneConfig

REPO = Path(__file__).resolve().parent.parent
PATHS = field_paths()
SECTIONS = {p.rsplit(".", 1)[0] for p in PATHS} | {p.split(".")[0] for p in PATHS}
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "state").mkdir()
    (root / "run").mkdir()
    (root / "a-file").write_text("not a folder\n")
    return root


def base(work: Path) -> dict[str, Any]:
    """A valid file that asks for the simulated devices explicitly."""
    return {
        "device": {"site": "fuzz", "desk": "d1", "timezone": "Europe/Paris"},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "thermometer": {"port": "simulated"},
        "camera": {"source": "simulated"},
        "vision": {"models_dir": str(REPO / "models")},
        "zones": [{"name": "desk", "role": "staff", "polygon": [[0.5, 0], [1, 0], [1, 0.5]]}],
        "clinic": {"mon": ["08:00-12:00", "13:00-17:00"]},
        "outbox": {"path": str(work / "state" / "outbox.sqlite3")},
        "runtime": {
            "state_dir": str(work / "state"),
            "status_socket": str(work / "run" / "status.sock"),
        },
    }


def check(path: Path, doc: dict[str, Any] | bytes) -> tuple[int, str]:
    """``triage-agent config check`` on ``doc`` in process: (status, stdout + stderr)."""
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["config", "check", str(path)])  # any exception fails the test
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text
    assert status in (0, EX_CONFIG), text
    if status == 0:
        assert ": OK (device " in text, text
    else:
        assert text.strip(), "a refusal says why"
    return status, text


def named_fields(text: str) -> list[str]:
    """The field paths a refusal names (zone indexes dropped: ``zones.0.name`` -> ``zones.name``)."""
    found = []
    for line in text.splitlines():
        m = re.match(r"^  ([a-z_][a-z0-9_.]*)", line)
        if m:
            found.append(re.sub(r"\.\d+(?=\.|$)", "", m.group(1)))
    return found


def names(text: str, path: str) -> bool:
    """Whether a refusal names ``path``: the field itself (or an item of it), or a line about its
    section (a rule across fields) that mentions the field's key."""
    section, _, key = path.rpartition(".")
    for line in text.splitlines():
        tokens = named_fields(line)
        if not tokens:
            continue
        token = tokens[0]
        if token == path or token.startswith(path + "."):
            return True
        if token.split(".")[0] == path.split(".", maxsplit=1)[0] and key in line:
            return True
        if token == section and key in line:
            return True
    return False


# -- values -----------------------------------------------------------------------------------

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "/", ".", "..", "simulated", "\u202e", "a\u0000b", "x" * 5000]),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _field(path: str) -> Any:
    """The pydantic FieldInfo of a dotted path (``zones.name`` is a ZoneConfig field)."""
    model: type[BaseModel] = AgentConfig
    *parents, key = path.split(".")
    for part in parents:
        inner = ZoneConfig if part == "zones" else model.model_fields[part].annotation
        assert isinstance(inner, type)
        assert issubclass(inner, BaseModel)
        model = inner
    return model.model_fields[key]


def _bounds(field: Any) -> list[float]:
    out: list[float] = []
    for item in field.metadata:
        for name in ("gt", "ge", "lt", "le"):
            value = getattr(item, name, None)
            if isinstance(value, int | float):
                out.append(float(value))
    return out


def _kinds(annotation: Any) -> list[Any]:
    """The non-None alternatives of an annotation (``Path | None`` -> ``[Path]``)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [k for a in typing.get_args(annotation) for k in _kinds(a)]
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    return [] if annotation is type(None) else [annotation]


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


hour_ranges = st.lists(
    st.tuples(st.integers(0, 1440), st.integers(0, 1440)).map(
        lambda t: f"{hhmm(t[0])}-{hhmm(t[1])}"
    ),
    max_size=4,
)
points = st.lists(
    st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)).map(list), min_size=0, max_size=6
)


WRONG_TYPES: list[Any] = [
    True,
    -1,
    0,
    2**63 - 1,
    -(2**63),
    1e308,
    -1e308,
    math.nan,
    math.inf,
    -math.inf,
    "",
    " ",
    "x" * 5000,
    "\u202e\u0000",
    [],
    [1, "a"],
    {"a": 1},
    {},
    dt.date(2026, 1, 1),
    dt.time(8, 0),
    dt.datetime(2026, 1, 1, 8, 0),
]
"""Values of every TOML type, for any field."""

TEXT_SAMPLES = [
    "simulated",
    "Europe",
    "America",
    "Etc",
    "Europe/",
    "America/New_York",
    "../../etc/passwd",
    "/etc/passwd",
    "utc",
    "bridge",
    "gy-mcu90614",
    "ftp://x",
    "rtsp://h/s",
    "/dev/video9",
    "0",
    "face-detector",
    "mask-classifier",
    "person-detector",
    "nope",
    "Desk 1",
    "a" * 33,
]


def path_samples(work: Path) -> list[str]:
    return [
        "",
        " ",
        "/",
        ".",
        "relative/x",
        str(work),
        str(work / "a-file"),
        str(work / "a-file" / "below"),
        str(work / "missing" / "x"),
        str(work / "state" / "new"),
        str(REPO / "models"),
        "/dev/null",
        "/" + "p" * 200,
    ]


def edge_values(path: str, work: Path) -> list[Any]:
    """Finite values of the field's own type: its default, its bounds and just past them, the
    choices of a literal, paths of every kind, opening hours that overlap or repeat."""
    field = _field(path)
    out: list[Any] = []
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    for kind in _kinds(field.annotation):
        origin = typing.get_origin(kind)
        if kind is bool:
            out += [True, False]
        elif kind is int or kind is float:
            for b in _bounds(field):
                if kind is int:
                    out += [int(b) - 1, int(b), int(b) + 1]
                else:
                    out += [b, math.nextafter(b, -math.inf), math.nextafter(b, math.inf), b + 1]
            out += [0, 1, -1, 7, 0.5, 86_400, 100_000, 10**9]
        elif origin is Literal:
            choices = list(typing.get_args(kind))
            out += choices + [str(c).lower() + "x" for c in choices]
        elif isinstance(kind, type) and issubclass(kind, Path):
            out += path_samples(work)
        elif kind is str or kind is SecretStr:
            out += TEXT_SAMPLES
        elif origin is list and path.startswith("clinic."):
            out += [
                ["08:00-12:00", "11:00-13:00"],
                ["08:00-12:00", "08:00-12:00"],
                ["08:00-12:00", "12:00-17:00"],
                ["13:00-17:00", "08:00-12:00"],
                ["08:00-17:00", "09:00-10:00"],
                ["00:00-24:00"],
                ["17:00-08:00"],
                ["24:00-24:00"],
                ["8-17"],
            ]
        elif origin is list and path == "zones.polygon":
            out += [[[0, 0], [1, 0]], [[0, 0], [1, 1], [1, 0], [0, 1]], [[0, 0], [2, 0], [0, 1]]]
    if default is not None and not isinstance(default, Path | SecretStr):
        out.append(default)
    return out


def typed_values(path: str, work: Path) -> st.SearchStrategy[Any]:
    """The field's edge values, and random values of its own type."""
    field = _field(path)
    options: list[st.SearchStrategy[Any]] = [st.sampled_from(edge_values(path, work) or [0])]
    for kind in _kinds(field.annotation):
        origin = typing.get_origin(kind)
        if kind is int:
            options.append(st.integers(-(10**7), 10**7))
        elif kind is float:
            options.append(st.floats(-1e7, 1e7))
        elif kind is str or kind is SecretStr:
            options.append(st.text(max_size=40))
        elif origin is list and path.startswith("clinic."):
            options.append(hour_ranges)
        elif origin is list and path == "zones.polygon":
            options.append(points)
    return st.one_of(*options)


def set_field(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``doc`` with ``path`` set (``zones.<key>`` in the first zone)."""
    *parents, key = path.split(".")
    node: dict[str, Any] = doc
    for part in parents:
        node = doc["zones"][0] if part == "zones" else node.setdefault(part, {})
    node[key] = value
    return doc


# -- the fuzz ---------------------------------------------------------------------------------


def test_base_document_is_accepted(work: Path) -> None:
    status, text = check(work / "base.toml", base(work))
    assert status == 0, text


@pytest.mark.parametrize("path", PATHS)
def test_every_field_at_its_edges_and_with_every_type(work: Path, path: str) -> None:
    """Deterministic sweep: each edge value and each TOML type in this one field."""
    for value in [*edge_values(path, work), *WRONG_TYPES]:
        status, text = check(work / "edge.toml", set_field(base(work), path, value))
        if status == EX_CONFIG:
            assert names(text, path), f"{path} = {value!r} refused without naming it:\n{text}"


@FUZZ
@given(data=st.data(), path=st.sampled_from(PATHS))
def test_every_field_refused_with_its_name_or_accepted(
    work: Path, data: st.DataObject, path: str
) -> None:
    value = data.draw(st.one_of(typed_values(path, work), toml_values), label="value")
    doc = set_field(base(work), path, value)
    status, text = check(work / "one.toml", doc)
    if status == EX_CONFIG:
        assert names(text, path), f"{path} = {value!r} refused without naming it:\n{text}"


def random_documents(work: Path) -> st.SearchStrategy[dict[str, Any]]:
    """Whole documents: a random subset of fields, each a typed or a random value."""

    def build(draw: st.DrawFn) -> dict[str, Any]:
        doc = base(work) if draw(st.booleans()) else {}
        if "zones" not in doc and draw(st.booleans()):
            doc["zones"] = [{"name": "z", "role": "queue", "polygon": [[0, 0], [1, 0], [1, 1]]}]
        chosen = draw(st.lists(st.sampled_from(PATHS), max_size=8, unique=True))
        for path in chosen:
            if path.startswith("zones.") and "zones" not in doc:
                continue
            value = draw(st.one_of(typed_values(path, work), toml_values))
            set_field(doc, path, value)
        if draw(st.booleans()):
            doc[draw(st.sampled_from(sorted(SECTIONS)))] = draw(toml_values)
        return doc

    return st.composite(build)()


@FUZZ
@given(data=st.data())
def test_random_documents_exit_0_or_78_naming_fields(work: Path, data: st.DataObject) -> None:
    doc = data.draw(random_documents(work), label="doc")
    status, text = check(work / "doc.toml", doc)
    if status == EX_CONFIG:
        fields = named_fields(text)
        assert fields, f"a refusal without a field:\n{text}"
        known = set(PATHS) | SECTIONS | {"(top level)"}
        for token in fields:
            assert any(token == k or token.startswith(k + ".") for k in known), (token, text)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(body=st.binary(max_size=300), bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]))
def test_random_bytes_never_crash(work: Path, body: bytes, bom: bytes) -> None:
    check(work / "bytes.toml", bom + body)


def test_a_byte_order_mark_is_accepted(work: Path) -> None:
    status, text = check(
        work / "bom.toml", b"\xef\xbb\xbf" + tomli_w.dumps(base(work)).encode("utf-8")
    )
    assert status == 0, text


def test_config_check_process_exits_78_naming_the_fields(tmp_path: Path) -> None:
    """The real process: an empty file is refused (no silent simulation), status 78."""
    empty = tmp_path / "config.toml"
    empty.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "config", "check", str(empty)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG, proc.stderr
    assert "  thermometer.port: not set" in proc.stderr
    assert "  camera.source: not set" in proc.stderr
    assert "Traceback" not in proc.stderr

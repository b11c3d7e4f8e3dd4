"""Tests of agent.flow.settings: the base every config section shares, on sections declared here.

:class:`Section`: unknown keys refused, values frozen, NaN and infinity refused, true/false only
where a switch is meant (plain, optional or annotated) and nowhere else, text up to
:data:`MAX_TEXT` and without NUL, no empty or blank path (an empty plain text stays allowed);
the :data:`Slug` and :data:`Seconds` field types at their bounds; :data:`EX_CONFIG` is sysexits'.
Where a technician finds the documents: a checkout needs ``docs/CONFIG.md`` *and* ``packaging/``,
an older package's documents under ``<sys.prefix>/share/doc``, and the advice about models for each
layout. tests/test_config_validation.py checks the assembled config file through the CLI and
tests/test_config_preflight.py the hints in its messages.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field, ValidationError

from agent.flow import settings
from agent.flow.settings import EX_CONFIG, MAX_TEXT, Seconds, Section, Slug
from tests.conftest import REPO


class Sample(Section):
    """A section with one field of each shape the validator looks at."""

    count: int = 1
    ratio: float = 0.5
    name: str = "x"
    path: Path = Path("/var/lib/x")
    maybe_path: Path | None = None
    annotated_path: Annotated[Path, Field(description="a path")] = Path("/x")
    switch: bool = False
    maybe_switch: bool | None = None
    annotated_switch: Annotated[bool, Field(description="a switch")] = False
    count_or_switch: int | bool = 0
    slug: Slug = "desk-1"
    seconds: Seconds = 1.0


def error(**values: Any) -> tuple[str, str]:
    """(field, message) of the one error ``values`` cause."""
    with pytest.raises(ValidationError) as caught:
        Sample(**values)
    [e] = caught.value.errors()
    return ".".join(str(p) for p in e["loc"]), e["msg"]


def test_ex_config_is_sysexits_value() -> None:
    assert EX_CONFIG == os.EX_CONFIG


def test_good_values_are_kept_and_frozen() -> None:
    s = Sample.model_validate(
        {
            "count": 3,
            "switch": True,
            "maybe_switch": None,
            "count_or_switch": True,
            "maybe_path": "/a",
        }
    )
    assert (s.count, s.switch, s.maybe_switch, s.count_or_switch) == (3, True, None, True)
    assert s.maybe_path == Path("/a")
    with pytest.raises(ValidationError, match="frozen"):
        s.count = 4


def test_unknown_keys_are_refused() -> None:
    assert error(colour="red") == ("colour", "Extra inputs are not permitted")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    assert error(ratio=value)[0] == "ratio"


@pytest.mark.parametrize("field", ["count", "ratio", "name", "path", "slug", "seconds"])
@pytest.mark.parametrize("value", [True, False])
def test_true_or_false_where_no_switch_is_meant(field: str, value: bool) -> None:
    assert error(**{field: value}) == (
        field,
        "Value error, true/false is not allowed here: give a value of the field's type",
    )


@pytest.mark.parametrize("field", ["switch", "maybe_switch", "annotated_switch"])
@pytest.mark.parametrize("value", [1, 0, "true", "yes", 1.0])
def test_a_switch_takes_true_or_false_and_nothing_else(field: str, value: object) -> None:
    assert error(**{field: value}) == (
        field,
        "Value error, give true or false (no quotes, not 0/1)",
    )


def test_a_field_that_admits_a_switch_among_others_takes_both() -> None:
    assert Sample(count_or_switch=True).count_or_switch is True
    assert Sample(count_or_switch=7).count_or_switch == 7


def test_text_up_to_the_limit_and_without_nul() -> None:
    assert len(Sample(name="a" * MAX_TEXT).name) == MAX_TEXT
    assert error(name="a" * (MAX_TEXT + 1)) == (
        "name",
        f"Value error, longer than {MAX_TEXT} characters",
    )
    assert error(path="/tmp/a\x00b") == (
        "path",
        "Value error, contains a NUL character (\\0); remove it",
    )
    assert error(name="\x00")[0] == "name"


@pytest.mark.parametrize("field", ["path", "maybe_path", "annotated_path"])
@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_an_empty_path_is_refused(field: str, value: str) -> None:
    loc, msg = error(**{field: value})
    assert loc == field
    assert msg.startswith("Value error, empty path: give a path, or leave the key out")


def test_an_empty_text_that_is_no_path_is_allowed() -> None:
    assert Sample(name="").name == ""


@pytest.mark.parametrize("good", ["a", "0", "desk-1", "c_02", "a" * 32])
def test_slugs_accepted(good: str) -> None:
    assert Sample(slug=good).slug == good


@pytest.mark.parametrize("bad", ["", "-a", "_a", "Desk", "a b", "a/b", "a+", "a#", "a" * 33, "é"])
def test_slugs_refused(bad: str) -> None:
    assert error(slug=bad)[0] == "slug"


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, False), (-1, False), (1e-9, True), (31_536_000, True), (31_536_000.001, False)],
)
def test_seconds_are_positive_and_at_most_a_year(value: float, ok: bool) -> None:
    if ok:
        assert Sample(seconds=value).seconds == value
    else:
        assert error(seconds=value)[0] == "seconds"


@pytest.fixture
def fresh_layout() -> Iterator[None]:
    settings.layout.cache_clear()
    yield
    settings.layout.cache_clear()


def test_from_this_checkout_the_documents_are_in_the_source_tree(fresh_layout: None) -> None:
    assert settings.SOURCE_TREE == REPO
    assert settings.layout() == "source"
    assert settings.where("config-doc") == str(REPO / "docs" / "CONFIG.md")
    assert settings.where("example") == str(REPO / "packaging" / "config.example.toml")
    assert Path(settings.where("example")).is_file()
    assert settings.models_advice() == "run `make models` in the source tree"


def test_docs_without_packaging_is_no_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_layout: None
) -> None:
    tree = tmp_path / "tree"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "CONFIG.md").write_text("#\n")
    monkeypatch.setattr(settings, "SOURCE_TREE", tree)
    monkeypatch.setattr(settings, "DEBIAN_DOC_DIR", tmp_path / "no-doc")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert settings.layout() == "unknown"
    settings.layout.cache_clear()
    (tree / "packaging").mkdir()
    assert settings.layout() == "source"


def test_an_older_package_keeps_its_documents_under_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_layout: None
) -> None:
    prefix = tmp_path / "opt" / "triage-agent"
    doc = prefix / "share" / "doc"
    doc.mkdir(parents=True)
    (doc / "CONFIG.md").write_text("#\n")
    monkeypatch.setattr(settings, "SOURCE_TREE", tmp_path / "no-checkout")
    monkeypatch.setattr(settings, "DEBIAN_DOC_DIR", tmp_path / "usr-share-doc")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert settings.layout() == "installed"
    assert settings.where("config-doc") == str(doc / "CONFIG.md")
    # the example is in neither place: the package's own place is named
    assert settings.where("example") == str(tmp_path / "usr-share-doc" / "config.example.toml")
    assert settings.models_advice() == (
        f"reinstall the package (the models ship in {prefix / 'models'})"
    )


def test_the_layout_is_decided_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_layout: None
) -> None:
    assert settings.layout() == "source"
    monkeypatch.setattr(settings, "SOURCE_TREE", tmp_path / "elsewhere")
    assert settings.layout() == "source"  # cached for the process


def test_unsure_names_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_layout: None
) -> None:
    monkeypatch.setattr(settings, "SOURCE_TREE", tmp_path / "no-checkout")
    monkeypatch.setattr(settings, "DEBIAN_DOC_DIR", tmp_path / "doc")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "nowhere"))
    assert settings.layout() == "unknown"
    assert settings.where("example") == (
        f"{tmp_path / 'doc' / 'config.example.toml'} "
        "(in the source tree: packaging/config.example.toml)"
    )
    advice = settings.models_advice()
    assert f"{settings.INSTALL_PREFIX / 'models'}" in advice
    assert advice.endswith("in the source tree: `make models`")

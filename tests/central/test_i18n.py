"""central/i18n: the catalogs cover every message, the formats follow the locale."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from central.i18n import LOCALES, UnknownLocaleError, check_locale, translator
from central.report.render import templates

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_has_a_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "N_", "-o", str(pot), "central"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    assert wanted, "pybabel found no messages: the extraction config is broken"
    for locale in LOCALES:
        if locale == "en":
            continue
        po = ROOT / "central/i18n/locale" / locale / "LC_MESSAGES/messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        missing = sorted(
            str(mid)
            for mid in wanted
            if not (m := catalog.get(mid)) or not m.string or m.fuzzy
            or (isinstance(m.string, tuple) and not all(m.string))
        )  # fmt: skip
        assert not missing, f"{locale}: run `make i18n` and translate: {missing[:20]}"


def test_chinese_formats_follow_the_locale() -> None:
    t = translator("zh_CN")
    when = datetime(2026, 12, 5, 16, 35, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert t.date(when) == "2026年12月5日"
    assert t.weekday(when) == "星期六"
    assert t.time(when) == "16:35"
    assert t.number(0) == "0"
    assert t.gettext("Daily notification") == "每日通报"
    assert translator("en").gettext("Daily notification") == "Daily notification"


def test_templates_translate_per_language() -> None:
    zh = templates(translator("zh_CN")).from_string('{{ _("Fleet") }}').render()
    en = templates(translator("en")).from_string('{{ _("Fleet") }}').render()
    assert (zh, en) == ("设备总览", "Fleet")


def test_unknown_language_is_named() -> None:
    assert check_locale("zh-CN") == "zh_CN"
    with pytest.raises(UnknownLocaleError, match="fr"):
        check_locale("fr")

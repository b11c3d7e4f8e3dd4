"""The group chat's short summary (central/delivery/compose.py): its headline counts problems and
clinics each with its own plural ("1 problem found at 2 clinics."), in English and zh_CN."""

# ruff: noqa: RUF001 - the Chinese texts use full-width punctuation
from __future__ import annotations

from datetime import date

import pytest

from central.delivery.compose import summary_message
from central.i18n import translator
from central.loop.notices import IssuedNotice, NoticeProblem

DAY = date(2026, 11, 23)


def notice(n: int, site: str, kinds: list[str]) -> IssuedNotice:
    problems = tuple(
        NoticeProblem(i, kind, "unmasked", "desk-1", 1_795_000_000.0 + i, None, None, None)
        for i, kind in enumerate(kinds, 1)
    )
    return IssuedNotice(
        id=n, number=f"2026-{n:04d}", site=site, clinic_name=f"诊所{n}", day=DAY,
        problems=problems, deadline=date(2026, 11, 26), required_actions=(),
        written_report=True, summoned=False, notices_in_window=1,
        issued_at=1_795_100_000.0, issued_by="officer",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("notices", "english", "chinese"),
    [
        ([notice(1, "c-01", ["unmasked"])], "1 problem found at 1 clinic.",
         "发现问题 1 个，涉及 1 家诊所。"),
        ([notice(1, "c-01", ["unmasked", "crowding", "staff"])], "3 problems found at 1 clinic.",
         "发现问题 3 个，涉及 1 家诊所。"),
        ([notice(1, "c-01", ["unmasked"]), notice(2, "c-02", ["crowding", "staff"])],
         "3 problems found at 2 clinics.", "发现问题 3 个，涉及 2 家诊所。"),
    ],
)  # fmt: skip
def test_the_headline_counts_problems_and_clinics_each_with_its_plural(
    notices: list[IssuedNotice], english: str, chinese: str
) -> None:
    en = summary_message(notices, DAY, translator("en"))
    zh = summary_message(notices, DAY, translator("zh_CN"))
    assert english in en.text.splitlines()
    assert chinese in zh.text.splitlines()
    assert all(n.clinic_name in zh.text for n in notices)


def test_a_day_without_notices_says_so() -> None:
    assert (
        "No clinic was notified: no problems were found."
        in summary_message([], DAY, translator("en")).text
    )

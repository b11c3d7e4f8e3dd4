"""Output made safe for where it is opened: spreadsheet cells and terminals.

Alert names, messages and ids come from boxes, which are untrusted. A CSV cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and WPS
("CSV injection"): such cells get a leading apostrophe, unless they are plain numbers. CSV files
start with a UTF-8 byte-order mark, so spreadsheet programs in a Chinese locale read them as UTF-8.
Text for a terminal loses control characters (escape sequences can rewrite the screen) and the
bidirectional overrides that can reorder what a reader sees.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def cell(value: object) -> object:
    """A CSV cell that no spreadsheet program runs as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document: byte-order mark, header, rows with every cell made safe."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([cell(v) for v in row])
    return buf.getvalue()


def terminal(text: str) -> str:
    """``text`` without control characters (newlines and tabs kept) or bidi overrides."""
    return _TERMINAL.sub("\ufffd", text)

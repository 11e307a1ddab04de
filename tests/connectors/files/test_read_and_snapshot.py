"""Reading exports (encodings, delimiters, workbooks) and the snapshot diff: pure, files in tmp_path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connectors.files.read import InputFileError, detect_delimiter, open_table
from connectors.files.snapshot import Diff, SnapshotStore, Verdict, fingerprint
from tests.connectors.files.exports import HEADER, person_row, write_csv, write_xlsx


@pytest.mark.parametrize(
    ("encoding", "delimiter", "found"),
    [("cp1251", ";", "cp1251"), ("utf-8-sig", ",", "utf-8-sig"), ("utf-8", ";", "utf-8")],
)
def test_encoding_and_delimiter_are_detected(
    tmp_path: Path, encoding: str, delimiter: str, found: str
) -> None:
    path = write_csv(
        tmp_path / "x.csv", [person_row(1), person_row(2)], encoding=encoding, delimiter=delimiter
    )
    with open_table(path) as table:
        rows = list(table.rows())
    assert (table.encoding, table.delimiter) == (found, delimiter)
    assert table.header == tuple(HEADER)  # a BOM does not stick to the first header
    assert rows == [(2, person_row(1)), (3, person_row(2))]


def test_decimal_commas_do_not_fool_the_delimiter_detection() -> None:
    sample = "Кадастровый номер;Площадь, м2\n01:011:004:1;1000,5\n01:011:004:2;250,75\n"
    assert detect_delimiter(sample) == ";"
    assert detect_delimiter("a,b,c\n1,2,3\n") == ","


def test_blank_rows_are_skipped_but_keep_the_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ИИН;Имя\n1;ж\n\n2;ш\n;\n", encoding="utf-8")
    with open_table(path) as table:
        assert list(table.rows()) == [(2, ["1", "ж"]), (4, ["2", "ш"])]


def test_a_workbook_is_read_with_typed_cells_and_closed(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "x.xlsx", [[900514301239, "Абенов", dt.datetime(1990, 5, 14)]], ["ИИН", "Ф", "Д"]
    )
    with open_table(path) as table:
        rows = list(table.rows())
    assert (table.kind, table.sheet, table.header) == ("xlsx", "Sheet", ("ИИН", "Ф", "Д"))
    assert rows == [(2, (900514301239, "Абенов", dt.datetime(1990, 5, 14)))]


def test_unreadable_inputs_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        open_table(tmp_path / "missing.csv")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputFileError, match=r"save it as \.xlsx"):
        open_table(old)
    with pytest.raises(InputFileError, match="no sheet 'Реестр'"):
        open_table(write_xlsx(tmp_path / "x.xlsx", []), sheet="Реестр")


def test_the_diff_tells_created_updated_unchanged_and_deleted(tmp_path: Path) -> None:
    a, b = {"iin": "1", "name": "A", "born": dt.date(1990, 1, 1)}, {"iin": "2", "name": "B", "born": None}
    with SnapshotStore(tmp_path / "s.sqlite") as store:
        store.apply("feed", [("1", fingerprint(a)), ("2", fingerprint(b)), ("3", fingerprint(b))])
        store.apply("other", [("9", fingerprint(a))])
    with SnapshotStore(tmp_path / "s.sqlite") as store:  # survives reopening
        diff = Diff(store.hashes("feed"))
        moved = {**a, "name": "A2"}
        assert diff.classify("1", fingerprint(moved).digest) is Verdict.UPDATED
        assert store.changed("feed", "1", fingerprint(moved)) == ["name"]
        assert diff.classify("2", fingerprint(dict(reversed(b.items()))).digest) is Verdict.UNCHANGED
        assert diff.classify("4", fingerprint(b).digest) is Verdict.CREATED
        assert diff.deleted() == ["3"]
        diff.protect("3")
        assert diff.deleted() == []
        assert store.record("feed", "1") == {"iin": "1", "name": "A", "born": "1990-01-01"}

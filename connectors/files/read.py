"""Rows of a CSV or XLSX export, with the encoding and delimiter found rather than asked for.

Agency exports come from Excel and 1C on Windows: UTF-8 (often with a BOM) or CP1251, ``;``
(Russian-locale Excel) or ``,``. Encoding rule: a BOM decides (UTF-8, UTF-16); otherwise the
whole file is checked as strict UTF-8 and anything else is read as CP1251. The check is exact
for these two (Cyrillic CP1251 text is practically never valid UTF-8), where a statistical
detector such as charset-normalizer can only guess (and may name KOI8-R or MacCyrillic on short
files). ``--encoding`` overrides it. Row numbers are spreadsheet row numbers: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Protocol, Self

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from bus.errors import ConfigError

__all__ = ["InputFileError", "TableReader", "detect_delimiter", "detect_encoding", "open_table"]

_CHUNK = 1 << 20
_SAMPLE_CHARS = 64 * 1024
_DELIMITERS = ";,"
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_ZIP_MAGIC = b"PK\x03\x04"


class InputFileError(ConfigError):
    """The input file cannot be opened or read as a table; the message names the file and row."""

    code = "input_file_unreadable"


def detect_encoding(path: Path) -> tuple[str, int]:
    """The file's encoding by the rule above, and its number of line breaks (for progress)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    valid_utf8 = True
    with path.open("rb") as file:
        head = file.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", 0
        file.seek(0)
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            lines += chunk.count(b"\n")
            if valid_utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid_utf8 = False
        if valid_utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid_utf8 = False
    if not valid_utf8:
        return "cp1251", lines
    return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), lines


def detect_delimiter(sample: str) -> str:
    """``;`` or ``,``: the one that splits the header into more columns (``;`` on a tie).

    csv.Sniffer (restricted to the two) decides only a one-column header: it prefers ``,``
    whenever both split every line evenly, which decimal commas ("1000,5") make common in
    ``;`` files, while a ``,`` inside a ``;`` header ("Площадь, м2") is ordinary.
    """
    header_line = sample.splitlines()[0] if sample else ""
    columns = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in _DELIMITERS}
    if columns[";"] > 1 or columns[","] > 1:
        return ";" if columns[";"] >= columns[","] else ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


class _Closable(Protocol):
    def close(self) -> None: ...


class TableReader:
    """An open table: its header and a one-pass iterator of ``(row number, cells)``; close it."""

    def __init__(
        self,
        path: Path,
        kind: Literal["csv", "xlsx"],
        rows: Iterator[Sequence[Any]],
        closer: _Closable,
        *,
        header_row: int,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet: str | None = None,
        total_rows: int | None = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheet = sheet
        self._rows = rows
        self._closer = closer
        self._number = 0
        self.header: tuple[str, ...] = ()
        for _ in range(header_row):
            found = self._next()
            if found is None:
                self.close()
                raise InputFileError(
                    f"{path} has no header row (expected it on row {header_row})",
                    hint="export the table with its column headers, or pass --header-row",
                )
            self.header = tuple("" if cell is None else str(cell).strip() for cell in found)
        self.header_row = header_row
        self.total_rows = None if total_rows is None else max(total_rows - header_row, 0)

    def _next(self) -> Sequence[Any] | None:
        try:
            row = next(self._rows)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{self.path} row {self._number + 1} is not valid {self.encoding}: {exc.reason}",
                hint="pass --encoding with the file's real encoding (e.g. cp1251, utf-8)",
            ) from None
        except csv.Error as exc:
            raise InputFileError(
                f"{self.path} row {self._number + 1} cannot be read as CSV: {exc}",
                hint="check quoting on that row; re-export the file from its source system",
            ) from None
        self._number += 1
        return row

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """Data rows after the header, skipping fully blank ones (exports often end with some)."""
        while (row := self._next()) is not None:
            if any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in row):
                yield self._number, row

    def close(self) -> None:
        self._closer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int = 1,
) -> TableReader:
    """Open a CSV or XLSX file (chosen by suffix, else by content) positioned after its header."""
    if not path.is_file():
        raise InputFileError(f"input file {path} does not exist", hint="check the path")
    if path.suffix.lower() == ".xls":
        raise InputFileError(
            f"{path} is an Excel 97-2003 workbook", hint="save it as .xlsx (or CSV) in Excel and import that"
        )
    with path.open("rb") as probe:
        zipped = probe.read(4) == _ZIP_MAGIC
    if path.suffix.lower() in _XLSX_SUFFIXES or zipped:
        return _open_xlsx(path, sheet, header_row)
    return _open_csv(path, encoding, delimiter, header_row)


def _open_csv(path: Path, encoding: str | None, delimiter: str | None, header_row: int) -> TableReader:
    lines: int | None = None
    if encoding is None:
        encoding, lines = detect_encoding(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(f"unknown encoding {encoding!r}", hint="use e.g. utf-8 or cp1251") from None
    file: IO[str] = path.open(encoding=encoding, newline="")
    try:
        if delimiter is None:
            sample = file.read(_SAMPLE_CHARS)
            file.seek(0)
            delimiter = detect_delimiter(sample)
    except UnicodeDecodeError:
        file.close()
        raise InputFileError(
            f"{path} is not valid {encoding}", hint="pass --encoding with the file's real encoding"
        ) from None
    if encoding == "utf-8-sig" or file.read(1) != "\ufeff":
        file.seek(0)
    reader = csv.reader(file, delimiter=delimiter)
    return TableReader(
        path,
        "csv",
        reader,
        file,
        header_row=header_row,
        encoding=encoding,
        delimiter=delimiter,
        total_rows=lines,
    )


def _open_xlsx(path: Path, sheet: str | None, header_row: int) -> TableReader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # style and extension notes; no data is lost
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise InputFileError(
            f"{path} cannot be opened as an XLSX workbook: {exc}", hint="re-save it from Excel as .xlsx"
        ) from None
    if sheet is not None and sheet not in workbook.sheetnames:
        workbook.close()
        raise InputFileError(
            f"{path} has no sheet {sheet!r} (its sheets: {', '.join(workbook.sheetnames)})",
            hint="pass --sheet with one of those names",
        )
    worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
    rows = worksheet.iter_rows(values_only=True)
    total = worksheet.max_row if isinstance(worksheet.max_row, int) else None
    return TableReader(
        path,
        "xlsx",
        rows,
        _Closer(workbook),
        header_row=header_row,
        sheet=worksheet.title,
        total_rows=total,
    )


class _Closer:
    """openpyxl's read-only workbook keeps its zip open until ``close()``."""

    def __init__(self, workbook: Any) -> None:
        self._workbook = workbook

    def close(self) -> None:
        self._workbook.close()

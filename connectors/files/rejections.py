"""The rejection report: one CSV line per problem, next to the input, for the clerk who fixes it.

``<input>.rejected.csv`` (UTF-8 with BOM so Excel shows Cyrillic; the input's delimiter, ``,``
for workbooks) with columns ``row, key, column, field, value, reason``. Row numbers are the
spreadsheet's (header = row 1). A run without rejections removes a stale report, so a report
beside a file always describes its last import.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from connectors.files.convert import RowProblem

__all__ = ["REPORT_COLUMNS", "RejectionGroup", "RejectionReport", "report_path_for"]

REPORT_COLUMNS = ("row", "key", "column", "field", "value", "reason")


def report_path_for(source: Path) -> Path:
    return source.with_name(f"{source.stem}.rejected.csv")


@dataclass(frozen=True, slots=True)
class RejectionGroup:
    """Problems of one column and field, for the summary table: how many, and the first example."""

    column: str
    field: str
    count: int
    first_row: int
    example: str


class RejectionReport:
    """Written as rows are rejected (the file opens on the first problem); close it at the end."""

    def __init__(self, path: Path, delimiter: str = ",") -> None:
        self.path = path
        self._delimiter = delimiter
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self.rows = 0
        self.problems = 0
        self._counts: Counter[tuple[str, str]] = Counter()
        self._first: dict[tuple[str, str], RowProblem] = {}
        self._closed = False

    def reject(self, key: str | None, problems: Iterable[RowProblem]) -> None:
        """Record every problem of one row."""
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.DictWriter(self._file, REPORT_COLUMNS, delimiter=self._delimiter)
            self._writer.writeheader()
        self.rows += 1
        for problem in problems:
            self.problems += 1
            group = (problem.column, problem.field)
            self._counts[group] += 1
            self._first.setdefault(group, problem)
            self._writer.writerow(
                {
                    "row": problem.row,
                    "key": key or "",
                    "column": problem.column,
                    "field": problem.field,
                    "value": problem.value,
                    "reason": problem.reason,
                }
            )

    def groups(self) -> list[RejectionGroup]:
        """The summary: most frequent column/field first."""
        return [
            RejectionGroup(column, field, count, self._first[group].row, self._first[group].reason)
            for group, count in self._counts.most_common()
            for column, field in [group]
        ]

    def close(self, *, completed: bool = True) -> None:
        """Finish the report; after a completed import without rejections, remove a stale one."""
        if self._closed:
            return
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
        elif completed:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(completed=exc_type is None)

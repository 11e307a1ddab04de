"""A civil-registry export as agencies make them: Cyrillic headers, dd.mm.yyyy dates, Russian sex codes."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl

from tests.people import person

HEADER = [
    "ИИН",
    "Фамилия",
    "Имя",
    "Отчество",
    "Дата рождения",
    "Пол",
    "Область",
    "Населённый пункт",
    "Улица",
    "Дом",
    "Телефон",
]
MAPPING = """\
record_type: person
key: iin
columns:
  ИИН: iin
  Фамилия: surname
  Имя: given_name
  Отчество: patronymic
  Дата рождения: {field: birth_date, date: "%d.%m.%Y"}
  Пол: {field: sex, enum: {Муж: MALE, Жен: FEMALE}}
  Область: registered_address.region
  Населённый пункт: registered_address.settlement
  Улица: registered_address.street
  Дом: registered_address.building
  Телефон: phone
defaults:
  citizenship: KAZ
"""
BAD_KINDS = ("check digit", "missing surname", "bad date", "duplicate key")


def person_row(n: int, **overrides: str) -> list[str]:
    """The n-th person of tests.people as an export row (valid: real IIN check digit)."""
    p = person(n)
    row = {
        "ИИН": p["iin"],
        "Фамилия": f"Тестова{n}" if p["sex"] == "FEMALE" else f"Тестов{n}",
        "Имя": "Айгерим" if p["sex"] == "FEMALE" else "Данияр",
        "Отчество": "",
        "Дата рождения": p["birth_date"].strftime("%d.%m.%Y"),
        "Пол": "Жен" if p["sex"] == "FEMALE" else "Муж",
        "Область": "Акмолинская",
        "Населённый пункт": "Косшы",
        "Улица": "Республики",
        "Дом": str(1 + n % 120),
        "Телефон": f"+7701{n:07d}",
    }
    row.update(overrides)
    return [row[column] for column in HEADER]


def register(count: int, *, bad_every: int = 0) -> tuple[list[list[str]], dict[int, tuple[str, str]]]:
    """``count`` rows; every ``bad_every``-th is broken in one way (cycling through BAD_KINDS).

    Returns the rows and, per broken spreadsheet row number, the (column, kind) expected in the report.
    """
    rows: list[list[str]] = []
    bad: dict[int, tuple[str, str]] = {}
    for i in range(count):
        if bad_every and i % bad_every == bad_every - 1:
            kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
            row = person_row(i)
            if kind == "check digit":
                row[0] = row[0][:11] + str((int(row[0][11]) + 1) % 10)
                bad[i + 2] = ("ИИН", kind)
            elif kind == "missing surname":
                row[1] = ""
                bad[i + 2] = ("Фамилия", kind)
            elif kind == "bad date":
                row[4] = "31.02." + row[4][6:]
                bad[i + 2] = ("Дата рождения", kind)
            else:
                row = list(rows[-1])
                bad[i + 2] = ("ИИН", kind)
            rows.append(row)
        else:
            rows.append(person_row(i))
    return rows, bad


def write_csv(
    path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    workbook.close()
    return path

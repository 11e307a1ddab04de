"""docs/architecture.md maps every module of ``bus/`` and ``connectors/``, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
_FOLDER = re.compile(r"^#### `(?P<folder>[\w/]+)/` — ")
_MODULE = re.compile(r"^- `(?P<name>[\w.]+\.py)`: \S")


def _mapped() -> set[str]:
    found, folder = set(), None
    for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        if heading := _FOLDER.match(line):
            folder = heading["folder"]
        elif (module := _MODULE.match(line)) and folder:
            found.add(f"{folder}/{module['name']}")
    return found


def _on_disk() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for top in ("bus", "connectors")
        for path in (ROOT / top).rglob("*.py")
        if path.name != "__init__.py"
    }


def test_every_module_is_described_in_the_architecture_map() -> None:
    assert sorted(_on_disk() - _mapped()) == []


def test_the_architecture_map_names_no_module_that_is_gone() -> None:
    assert sorted(_mapped() - _on_disk()) == []

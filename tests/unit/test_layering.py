"""The import layering of STYLE 2 and of the data path, enforced by import-linter's contracts.

The contracts live in ``[tool.importlinter]`` of pyproject.toml; a second test proves the checker
really fails on a broken contract, so a green run means something.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def lint_imports(config_filename: str) -> int:
    """import-linter in a child process: in-process it disables every logger created before it."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, config_filename],
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ).returncode


@pytest.fixture(autouse=True)
def _in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_every_layering_contract_in_pyproject_is_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_a_subscriber_module_importing_the_processor_breaks_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a package laid out like bus/ whose subscriber imports the processor
    for module, text in {
        "layered/__init__.py": "",
        "layered/processor/__init__.py": "",
        "layered/subscriber/__init__.py": "import layered.processor\n",
    }.items():
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text(text, encoding="utf-8")
    config = tmp_path / "contracts.toml"
    config.write_text(
        """
[tool.importlinter]
root_packages = ["layered"]

[[tool.importlinter.contracts]]
name = "nothing downstream of the processor imports it"
type = "forbidden"
source_modules = ["layered.subscriber"]
forbidden_modules = ["layered.processor"]
""",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # when / then
    assert lint_imports(config_filename=os.fspath(config)) == 1

"""The committed topic, user, Deployment and compose-script files equal what the code generates."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

from tests.deploy.conftest import DEPLOY, REPO


def test_every_generated_file_is_committed_as_generated(generator: ModuleType) -> None:
    for path, text in generator.outputs().items():
        assert path.exists(), f"{path} is missing: run python deploy/kubernetes/generate.py"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(REPO)} differs from the code: run python deploy/kubernetes/generate.py"
        )


def test_the_generator_check_mode_agrees() -> None:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "kubernetes" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr

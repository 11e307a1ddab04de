"""Helpers shared by the deployment-file tests: the repository root and the generator module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def load_generator() -> ModuleType:
    """deploy/kubernetes/generate.py is a script, not a package: load it by path."""
    spec = importlib.util.spec_from_file_location("deploy_generate", DEPLOY / "kubernetes" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return load_generator()

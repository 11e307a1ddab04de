"""The purpose code list (``deploy/purpose-codes.yaml``) and checking agreements against it.

Agreements name a machine-readable ``purpose_code`` beside their free-text purpose, so purposes can
be counted (scorecard) and checked; the list lives beside the agreements folder, reviewed like them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import yaml

from bus.errors import ConfigError
from bus.policy.agreement import Agreement

PURPOSE_CODES_FILE: Final = "purpose-codes.yaml"


def codes_file_for(agreements_folder: Path) -> Path:
    """Where the code list of an agreements folder is: beside it (``deploy/agreements`` → ``deploy/``)."""
    return agreements_folder.resolve().parent / PURPOSE_CODES_FILE


def load_purpose_codes(path: Path) -> dict[str, str] | None:
    """Code → description; None when there is no list (then no agreement may name a code)."""
    if not path.exists():
        return None
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the purpose code list {path}: {exc}", hint="fix the YAML") from None
    if not isinstance(found, Mapping) or not all(isinstance(v, str) for v in found.values()):
        raise ConfigError(
            f"{path} must map each purpose code to its description",
            hint="write one `code: description` line per purpose, e.g. tax.property: Assessing land tax",
        )
    return {str(code): str(text) for code, text in found.items()}


def purpose_code_problems(
    agreements: Iterable[Agreement], codes: Mapping[str, str] | None, path: Path
) -> list[str]:
    """An agreement naming a code that is not in the list (or with no list at all)."""
    problems = []
    for agreement in agreements:
        code = agreement.purpose_code
        if code is None or (codes is not None and code in codes):
            continue
        where = f"the list {path}" if codes is not None else f"a purpose code list (there is none at {path})"
        known = f"; known codes: {', '.join(sorted(codes))}" if codes else ""
        problems.append(f"{agreement.id}: purpose_code {code!r} is not in {where}{known}")
    return problems

"""What the connector must remember between runs, beside its spool: did the initial snapshot finish?

The slot remembers the stream position; only the snapshot's completion (and the tables stopped by
drift) needs a file of its own, ``<spool>.pgstate.json``, replaced atomically and fsynced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.postgres.errors import CdcConfigError


class CaptureState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot: str
    consistent_point: str  # LSN text of the slot's creation
    snapshot_complete: bool = False
    stopped_tables: dict[str, str] = {}  # table -> why it stopped (drift, unmappable row)


def state_path(spool: Path) -> Path:
    return spool.with_name(spool.name + ".pgstate.json")


def load_state(path: Path) -> CaptureState | None:
    if not path.exists():
        return None
    try:
        return CaptureState.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise CdcConfigError(
            f"connector state {path} is unreadable: {exc}",
            hint="delete it and restart with --resnapshot (every row is published again as a snapshot)",
        ) from None


def save_state(path: Path, state: CaptureState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w") as out:
        out.write(json.dumps(state.model_dump(), indent=2))
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

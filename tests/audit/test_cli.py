"""``bus audit verify|subject`` as a user runs them: Rich output, exit code 1 on a broken chain."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from bus.audit.db import ArchiveStore
from bus.audit.keys import public_key_path
from bus.cli.audit import app
from tests.audit.conftest import ARCHIVED, AuditWorld
from tests.engine import PROFILE
from tests.support.cli import BusRunner

runner = BusRunner(env={"COLUMNS": "200"})


def verify_argv(world: AuditWorld, db: str) -> list[str]:
    return [
        "verify", "--db", db, "--trusted-key", str(public_key_path(world.audit_key_file)),
        "--bootstrap", world.settings.bootstrap, "--profile", PROFILE,
        "--topic", world.audit_topic, "--checkpoint-topic", world.checkpoint_topic,
    ]  # fmt: skip


def test_verify_prints_ok_with_counts(archived: AuditWorld) -> None:
    result = runner.invoke(app, verify_argv(archived, archived.sqlite_url()))
    assert result.exit_code == 0, result.output
    assert f"OK {ARCHIVED} rows in 3 partitions" in result.output


def test_verify_names_the_first_broken_row_and_exits_non_zero(archived: AuditWorld, tmp_path: Path) -> None:
    # given a copy of the archive with one row changed
    shutil.copy(Path(archived.sqlite_url().removeprefix("sqlite:///")), tmp_path / "audit.sqlite")
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    store = ArchiveStore(url)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_entries SET subject = 'x' WHERE kafka_partition = 2 AND kafka_offset = 7")
        )
    store.close()
    # when verified from the command line
    result = runner.invoke(app, verify_argv(archived, url))
    # then it names partition, offset, expected and found, and fails
    assert result.exit_code == 1
    assert "BROKEN partition 2 offset 7: hash_mismatch" in result.output
    assert "expected" in result.output
    assert "found" in result.output


def test_verify_without_the_trusted_key_file_says_so(archived: AuditWorld, tmp_path: Path) -> None:
    argv = verify_argv(archived, archived.sqlite_url())
    argv[argv.index("--trusted-key") + 1] = str(tmp_path / "missing.pub")
    result = runner.invoke(app, argv)
    assert result.exit_code == 1
    assert "cannot read trusted key file" in result.output


def test_subject_lists_who_received_what(archived: AuditWorld) -> None:
    result = runner.invoke(app, ["subject", "900514300001", "--db", archived.sqlite_url()])
    assert result.exit_code == 0, result.output
    assert "civil-registry" in result.output
    assert "police" in result.output  # entry 1 (and 998 is beyond 600): consumer police

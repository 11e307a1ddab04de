"""Errors of the audit archive, in the one ``BusError`` tree (``bus.errors``).

BusError
└── AuditError
    ├── ArchiveDatabaseError   the SQL database cannot be opened, migrated or written
    ├── AuditDecodeError       an entry on the audit topic cannot be read (halts the archiver)
    ├── CheckpointError        a checkpoint is unreadable or its signature does not verify
    └── AuditQueryError        a query argument (e.g. a page cursor) is not valid
"""

from __future__ import annotations

from bus.errors import BusError


class AuditError(BusError):
    code = "audit_error"


class ArchiveDatabaseError(AuditError):
    """The database refused or lost a transaction; nothing of the batch was kept, so retrying is safe."""

    code = "audit_database_failed"
    retriable = True


class AuditDecodeError(AuditError):
    """An audit entry cannot be decoded; archiving past it would leave a hole in the chain."""

    code = "audit_entry_undecodable"

    def __init__(self, partition: int, offset: int, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.partition = partition
        self.offset = offset


class CheckpointError(AuditError):
    code = "audit_checkpoint_invalid"


class AuditQueryError(AuditError):
    code = "audit_query_invalid"

"""Errors of the PostgreSQL change-capture connector, in the bus's one tree (``bus.errors``).

BusError
├── ConfigError
│   └── CdcConfigError      the mapping YAML is wrong (names the file and the entry)
├── CdcSourceError          PostgreSQL cannot be used (retriable when the link dropped)
├── SchemaDriftError        a mapped table no longer matches its mapping (names table, column, field)
└── RowMappingError         one row's value cannot become its field (names table, column, field)
"""

from __future__ import annotations

from bus.errors import BusError, ConfigError


class CdcConfigError(ConfigError):
    code = "cdc_config_invalid"


class CdcSourceError(BusError):
    code = "cdc_source_unavailable"


class SchemaDriftError(BusError):
    """The table's columns changed under the mapping; this table stops, the others go on."""

    code = "cdc_schema_drift"

    def __init__(self, table: str, column: str, field: str, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.table = table
        self.column = column
        self.field = field


class RowMappingError(BusError):
    """A row's value cannot be turned into its record field."""

    code = "cdc_row_unmappable"

    def __init__(self, table: str, column: str, field: str, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.table = table
        self.column = column
        self.field = field

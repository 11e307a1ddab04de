"""CSV/Excel snapshot-diff connector: publish what changed in an agency's spreadsheet export.

Modules: ``shape`` (what a schema lets a file fill), ``mapping`` (columns → fields, checked),
``read`` (CSV/XLSX rows, encoding and delimiter detection), ``convert`` (row → record or
problems), ``snapshot`` (last published state, SQLite), ``rejections`` (the report),
``importer`` (the orchestration). See docs/connectors-files.md.
"""

from connectors.files.importer import ImportOptions, ImportSummary, import_file
from connectors.files.mapping import FileMapping, MappingError, load_mapping
from connectors.files.read import InputFileError
from connectors.files.snapshot import SnapshotError, SnapshotStore

__all__ = [
    "FileMapping",
    "ImportOptions",
    "ImportSummary",
    "InputFileError",
    "MappingError",
    "SnapshotError",
    "SnapshotStore",
    "import_file",
    "load_mapping",
]

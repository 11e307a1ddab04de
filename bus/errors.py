"""The one exception tree of the bus.

Every error a user can see is a ``BusError``: a stable machine-readable ``code``, a
message naming the agency/topic/subject/field concerned, a ``hint`` saying what to
do, and ``retriable`` telling callers whether trying again can help.

    BusError
    ├── ConfigError            bad names, settings or arguments
    │   └── TopicNameError
    ├── BrokerError            the broker (embedded or external) cannot be used
    │   ├── BrokerBinaryNotFound
    │   └── BrokerStartError
    ├── RecordInvalidError     a record breaks its schema's rules (fields named in ``problems``)
    ├── UnknownRecordTypeError no schema is registered for an agency's record type
    ├── EnvelopeError          CloudEvents / bus headers missing or malformed
    ├── SignatureError         (bus.event.signing) a signature, proof or key id does not verify
    ├── SpoolError             (connectors.sdk._spool) the publisher's spool cannot be used
    │   └── SpoolFullError     its disk quota is reached
    └── WireFormatError        Confluent framing or Avro body cannot be read/written
        ├── EmptyPayloadError
        ├── MagicByteError
        ├── TruncatedPayloadError
        ├── UnknownSchemaIdError
        ├── AvroDecodeError
        └── RecordMismatchError
"""

from __future__ import annotations


class BusError(Exception):
    """Base of every error the bus raises on purpose."""

    code: str = "bus_error"
    retriable: bool = False

    def __init__(self, message: str, *, hint: str = "", retriable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retriable is not None:
            self.retriable = retriable

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ConfigError(BusError):
    code = "config_invalid"


class TopicNameError(ConfigError):
    code = "topic_name_invalid"


class BrokerError(BusError):
    code = "broker_unavailable"
    retriable = True


class BrokerBinaryNotFound(BrokerError):
    code = "broker_binary_not_found"
    retriable = False


class BrokerStartError(BrokerError):
    code = "broker_start_failed"


class AccessDeniedError(BusError):
    """The caller's credentials are wrong, or they name another agency's data."""

    code = "access_denied"


class RecordInvalidError(BusError):
    """A record (or its key) is not acceptable; ``problems`` lists (field path, reason)."""

    code = "record_invalid"

    def __init__(self, message: str, problems: list[tuple[str, str]], *, hint: str = "") -> None:
        details = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"{message}: {details}" if details else message, hint=hint)
        self.problems = problems


class RecordTooLargeError(BusError):
    """One record, with its signature and headers, is larger than its topic takes; none of it was sent."""

    code = "record_too_large"


class UnknownRecordTypeError(BusError):
    code = "record_type_unknown"


class EnvelopeError(BusError):
    """A CloudEvents or bus header is missing or malformed; ``header`` names it."""

    code = "envelope_invalid"

    def __init__(self, header: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.header = header


class WireFormatError(BusError):
    """The value is not a readable Confluent-framed Avro record."""

    code = "wire_format_invalid"


class EmptyPayloadError(WireFormatError):
    code = "payload_empty"


class MagicByteError(WireFormatError):
    code = "magic_byte_wrong"


class TruncatedPayloadError(WireFormatError):
    code = "payload_truncated"


class UnknownSchemaIdError(WireFormatError):
    code = "schema_id_unknown"

    def __init__(self, schema_id: int, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.schema_id = schema_id


class AvroDecodeError(WireFormatError):
    code = "avro_body_invalid"


class RecordMismatchError(WireFormatError):
    """A record does not match the schema it is being encoded with."""

    code = "record_schema_mismatch"

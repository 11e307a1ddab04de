"""Distinct types for the identifiers that flow through the bus.

With these the type checker catches a subject passed where a topic belongs.
"""

from typing import NewType

AgencyId = NewType("AgencyId", str)
RecordType = NewType("RecordType", str)
AgreementId = NewType("AgreementId", str)
TopicName = NewType("TopicName", str)
Subject = NewType("Subject", str)
SchemaId = NewType("SchemaId", int)
EventId = NewType("EventId", str)
RecordKey = NewType("RecordKey", str)

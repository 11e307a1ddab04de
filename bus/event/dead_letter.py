"""Dead-letter headers: the original bytes and headers untouched, plus why (DESIGN §2).

Written by the processor (``dlq.<provider>``) and by the webhook dispatcher (parked updates), and read
by ``bus dlq``; one definition so every reader understands every writer.
"""

from __future__ import annotations

HeaderList = list[tuple[str, bytes]]

REASON_HEADER = "bus_dlq_reason"
STAGE_HEADER = "bus_dlq_stage"
DETAIL_HEADER = "bus_dlq_detail"
TOPIC_HEADER = "bus_dlq_topic"
DEAD_LETTER_HEADERS = (REASON_HEADER, STAGE_HEADER, DETAIL_HEADER, TOPIC_HEADER)
_MAX_DETAIL = 1000


class DeadLetter(Exception):
    """Raised inside a stage for an input that cannot be processed; becomes a dead-letter record."""

    def __init__(self, stage: str, reason: str, detail: str) -> None:
        super().__init__(f"{stage}/{reason}: {detail}")
        self.stage = stage
        self.reason = reason
        self.detail = detail


def dead_letter_headers(original: HeaderList, error: DeadLetter, *, topic: str) -> HeaderList:
    """The original headers untouched, plus the stage, reason, (bounded) detail and the topic it came from."""
    return [
        *original,
        (REASON_HEADER, error.reason.encode()),
        (STAGE_HEADER, error.stage.encode()),
        (DETAIL_HEADER, error.detail[:_MAX_DETAIL].encode("utf-8", "replace")),
        (TOPIC_HEADER, topic.encode()),
    ]

"""Latest full record per key, kept in memory and on ``state.<provider>.<type>`` (compacted).

The processor needs the previous record (only-when-changed without ``bus_changed``), the
last ``bus_sequence`` (drop stale retransmissions) and which agreements already received
the key (deletes go to them). All three travel on the state topic, so a restarted or
rebalanced processor rebuilds them by reading its partitions of the state topics.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus.event.dead_letter import HeaderList as Headers
from bus.ids import TopicName
from bus.processor.outputs import Output

DELIVERED_HEADER = "bus_delivered"
SEQUENCE_HEADER = "bus_sequence"


@dataclass(frozen=True, slots=True)
class KeyState:
    sequence: int | None
    value: bytes | None  # Confluent-framed full record; None after a delete
    delivered: frozenset[str]
    partition: int  # of the ingress and state topics alike (same key, same partition count)


class StateStore:
    """(state topic, key) -> KeyState for the partitions this processor owns."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], KeyState] = {}

    def get(self, topic: str, key: str) -> KeyState | None:
        return self._states.get((topic, key))

    def put(self, topic: TopicName, key: str, state: KeyState) -> Output:
        """Remember the new state and return the record that persists it."""
        self._states[(topic, key)] = state
        headers: Headers = [(DELIVERED_HEADER, ",".join(sorted(state.delivered)).encode())]
        if state.sequence is not None:
            headers.append((SEQUENCE_HEADER, str(state.sequence).encode()))
        return Output(topic, key.encode(), state.value, headers)

    def load(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        """Apply one record read back from a state topic (latest per key wins)."""
        if key is None:
            return
        found = dict(headers)
        delivered = found.get(DELIVERED_HEADER, b"").decode()
        sequence = found.get(SEQUENCE_HEADER, b"").decode()
        self._states[(topic, key.decode())] = KeyState(
            int(sequence) if sequence.isdigit() else None,
            value,
            frozenset(d for d in delivered.split(",") if d),
            partition,
        )

    def keys(self, topic: str, partitions: set[int]) -> list[str]:
        """Keys with a current record in ``topic``'s given partitions (a copy: the store keeps changing)."""
        return [
            key
            for (t, key), state in self._states.items()
            if t == topic and state.partition in partitions and state.value is not None
        ]

    def clear(self) -> None:
        """Forget everything (after a rebalance the owned partitions are read back in)."""
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)

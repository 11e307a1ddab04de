"""The batch writer puts every key where aiokafka's ``send()`` would (co-partitioning)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from bus.kafka.batch_writer import partition_for


def test_keys_land_where_the_default_partitioner_puts_them() -> None:
    partitioner = DefaultPartitioner()
    for count in (1, 3, 4, 6, 12):
        partitions = list(range(count))
        for n in range(2000):
            key = f"{900000000000 + n * 7919}".encode()
            assert partition_for(key, partitions) == partitioner(key, partitions, partitions)


def test_keyless_outputs_go_to_some_partition() -> None:
    assert partition_for(None, [0, 1, 2]) in {0, 1, 2}

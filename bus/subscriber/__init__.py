"""Subscriber SDK: an agency receives the updates its agreements entitle it to, once, in order.

async with Subscriber("tax", token, bootstrap=..., registry=...) as subscriber:
    async for item in subscriber.updates(agreement="civil-to-tax-address"):
        if isinstance(item, Undeliverable):
            ...  # park or log it
        await item.ack()
"""

from bus.delivery.update import Undeliverable, Update
from bus.subscriber._client import RunStats, Subscriber

__all__ = ["RunStats", "Subscriber", "Undeliverable", "Update"]

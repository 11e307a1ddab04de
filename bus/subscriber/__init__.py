"""Subscriber SDK: an agency receives the updates its agreements entitle it to, once, in order.

async with Subscriber("tax", token, bootstrap=..., registry=...) as subscriber:
    async for update in subscriber.updates(agreement="civil-to-tax-address"):
        ...
        await update.ack()
"""

from bus.subscriber._update import DeliveryError, Update

__all__ = ["DeliveryError", "Update"]

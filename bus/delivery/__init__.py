"""Deliveries as every receiver reads them: the decoded ``Update`` or an ``Undeliverable`` item.

Shared by the subscriber SDK, the webhook dispatcher and the wallet, so all three read
``deliver.<consumer>.<agreement>`` records the same way; ``update`` is pure, ``decode`` asks the registry.
"""

"""Webhook delivery: POST an agency's deliveries to its HTTPS endpoint, signed the Standard Webhooks way.

For agencies that run no Kafka client. ``WebhookDispatcher`` (``dispatcher.py``) consumes
``deliver.<agency>.*`` for every agency with a webhook in the directory; see docs/webhooks.md.
"""

"""Receipts: a consumer's signed word that a delivery reached it (SDK → ``bus.receipts`` → archive)."""

"""The citizen wallet: a built-in consumer that keeps each person's latest records (docs/wallet.md)."""

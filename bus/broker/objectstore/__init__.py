"""A loopback S3 subset that keeps the embedded broker's objects as files on disk."""

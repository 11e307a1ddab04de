"""Helpers every test folder shares: waiting for an asynchronous outcome, and nothing else yet."""

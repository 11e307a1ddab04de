"""What every test folder shares, and the bench too (none of it but ``guards`` imports pytest):
``eventually`` (wait for an asynchronous outcome), ``running``/``serving`` (a component as ``bus up``
runs it), ``world`` (the one world builder: agencies, agreements, running parts) and ``guards``
(a test that leaks environment variables, threads or asyncio tasks fails)."""

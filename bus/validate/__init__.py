"""Validators for the identifiers that agencies send: IIN/BIN, VIN and land cadastral numbers.

The processor checks these rather than trusting them (DESIGN §3). Each validator is a pure
function returning a :class:`~bus.validate.result.Verdict`: ``Valid()`` or ``Invalid(reason)``,
where the reason names the value, what is wrong and what was expected. Nothing here does I/O.

Modules: ``result`` (the verdict types), ``iin`` (Kazakhstan IIN and BIN), ``vin`` (ISO 3779
vehicle identification numbers) and ``cadastral`` (Kazakhstan land cadastral numbers).
"""

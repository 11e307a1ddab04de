"""agency-bus: publish a record change once; deliver to every entitled agency exactly its fields."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agency-bus")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

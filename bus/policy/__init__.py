"""Data-sharing agreements as pure functions over pydantic models (DESIGN §5).

Default deny: a provider's record reaches a consumer only under an agreement that is in
force, whose ``where`` conditions hold, whose consent (when required) was granted at the
time of the change, and which grants at least one of the fields that changed.

Modules:

* ``agreement`` -- the agreement document (YAML), loading a folder of them, and checking
  their field paths against the provider's Avro schema;
* ``compile`` -- an agreement compiled once into a projection, a ``where`` matcher and the
  derived Avro schema of ``deliver.<consumer>.<agreement>``; changed-field paths;
* ``consent`` -- the ``bus.consent`` records and a point-in-time view over them;
* ``evaluate`` -- one event against every agreement: deliver, or deny with a closed reason;
* ``schema_paths`` -- following dotted field paths through an Avro record schema.

Nothing here does I/O apart from ``load_agreements`` reading the files it is pointed at.
"""

"""What a delivery carries of the ingress headers."""

from __future__ import annotations

from bus.processor.outputs import delivery_headers

INGRESS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"id-1"),
    ("ce_type", b"gov.civil.Person.updated"),
    ("ce_subject", b"900514301239"),
    ("bus_sequence", b"3"),
    ("bus_changed", b"phone,registered_address"),
    ("bus_signature", b"sig"),
    ("bus_sig_proof", b"proof"),
    ("bus_sig_key", b"key"),
]


def test_delivery_keeps_identity_and_names_the_agreement() -> None:
    headers = dict(
        delivery_headers(INGRESS, "gov.civil.Person.updated", "civil-to-tax", ("registered_address",))
    )
    assert (headers["ce_id"], headers["ce_subject"], headers["bus_sequence"]) == (
        b"id-1",
        b"900514301239",
        b"3",
    )
    assert headers["bus_agreement"] == b"civil-to-tax"
    assert headers["bus_changed"] == b"registered_address"


def test_delivery_drops_the_providers_signature() -> None:
    names = {name for name, _ in delivery_headers(INGRESS, "t.updated", "a", None)}
    assert not names & {"bus_signature", "bus_sig_proof", "bus_sig_key", "bus_changed"}

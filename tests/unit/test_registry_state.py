"""The registry state is a deterministic reduction of the bus.schemas log (claims, deletes, config)."""

from __future__ import annotations

from bus.registry.compat import CompatibilityLevel
from bus.registry.state import RegistryState, VersionEntry, config_key, fingerprint_of

A = '{"type":"record","name":"A","fields":[]}'
B = '{"type":"record","name":"B","fields":[]}'


def claim(subject: str, version: int, schema_id: int, text: str, *, deleted: bool = False) -> VersionEntry:
    return VersionEntry(subject, version, schema_id, fingerprint_of(text), text, deleted)


def applied(*records: tuple[VersionEntry, bool]) -> RegistryState:
    """Apply claims in order; (entry, True) writes the claim, (entry, False) its tombstone."""
    state = RegistryState()
    for entry, present in records:
        state.apply(entry.key(), entry.value() if present else None)
    return state


def test_first_claim_on_a_subject_version_wins() -> None:
    state = applied((claim("s", 1, 1, A), True), (claim("s", 1, 2, B), True))
    assert state.versions["s"][1].text == A
    assert 2 not in state.texts


def test_an_id_bound_to_one_schema_is_never_rebound() -> None:
    state = applied((claim("s", 1, 1, A), True), (claim("t", 1, 1, B), True))
    assert state.texts[1] == A
    assert "t" not in state.subjects()


def test_the_same_schema_keeps_its_id_across_subjects() -> None:
    state = applied((claim("s", 1, 7, A), True), (claim("t", 1, 8, A), True))
    assert state.id_for(fingerprint_of(A)) == 7
    assert "t" not in state.subjects()


def test_next_id_is_above_every_id_ever_claimed() -> None:
    state = applied((claim("s", 1, 1, A), True), (claim("s", 1, 5, B), True))
    assert state.id_for(fingerprint_of(B)) == 6


def test_soft_delete_hides_a_version_but_keeps_its_id() -> None:
    state = applied((claim("s", 1, 1, A), True), (claim("s", 1, 1, A, deleted=True), True))
    assert state.subjects() == []
    assert state.subjects(include_deleted=True) == ["s"]
    assert state.texts[1] == A


def test_permanent_delete_removes_version_and_unreferenced_id() -> None:
    entry = claim("s", 1, 1, A)
    state = applied((entry, True), (claim("s", 1, 1, A, deleted=True), True), (entry, False))
    assert state.subjects(include_deleted=True) == []
    assert 1 not in state.texts


def test_withdrawing_a_losing_claim_leaves_the_winner() -> None:
    loser = claim("s", 1, 2, B)
    state = applied((claim("s", 1, 1, A), True), (loser, True), (loser, False))
    assert state.versions["s"][1].text == A


def test_a_record_whose_text_does_not_match_its_fingerprint_is_ignored() -> None:
    state = RegistryState()
    entry = claim("s", 1, 1, A)
    state.apply(entry.key(), {**entry.value(), "schema": B})
    assert state.subjects() == []


def test_versions_continue_after_soft_deleted_ones() -> None:
    state = applied((claim("s", 1, 1, A, deleted=True), True))
    assert state.next_version("s") == 2


def test_subject_config_overrides_global_and_tombstone_restores_it() -> None:
    state = RegistryState()
    state.apply(config_key(None), {"compatibilityLevel": "FULL"})
    state.apply(config_key("s"), {"compatibilityLevel": "NONE"})
    assert (state.level_for("s"), state.level_for("t")) == (CompatibilityLevel.NONE, CompatibilityLevel.FULL)
    state.apply(config_key("s"), None)
    assert state.level_for("s") is CompatibilityLevel.FULL


def test_unknown_record_kinds_are_ignored() -> None:
    state = RegistryState()
    state.apply({"keytype": "NOOP"}, {})
    state.apply({"keytype": "SCHEMA", "subject": 3}, {"schema": A})
    assert state.subjects() == []

"""Agreement YAML, however mangled, loads into valid agreements or fails with one ConfigError naming the file.

Never another exception, and a loaded agreement always compiles against the person schema or is
refused by the compiler with a ConfigError (a reviewed document never crashes ``bus agreements apply``).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from bus.errors import ConfigError
from bus.policy.agreement import load_agreements
from bus.policy.compile import compile_agreement
from tests.conftest import REPO
from tests.fuzz.bench import INPUTS
from tests.fuzz.profile import fuzz_settings

PERSON_SCHEMA = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
VALID: dict[str, Any] = {
    "id": "civil-to-tax",
    "provider": "civil-registry",
    "consumer": "tax",
    "record_type": "person",
    "fields": ["iin", "surname", "registered_address.street"],
    "purpose": "tax purpose",
    "legal_basis": "Tax Code, Art. 24",
    "valid_from": "2026-01-01",
    "valid_until": "2027-01-01",
    "consent": "none",
    "where": {"citizenship": {"eq": "KAZ"}},
    "replaces": "certificate of residence",
}
TRICKY = ["iin", "registered_address.street", "a..b", ".x", "x.", "üñí", "*", "null", "~", "2026-02-30"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.dates().map(str),
    st.sampled_from(
        ["iin", "registered_address.street", "a..b", ".x", "x.", "üñí", "*", "null", "~", "2026-02-30"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=6,
)


def _load(text: str, name: str = "civil-to-tax.yaml") -> list[Any] | ConfigError:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            return list(load_agreements(Path(folder)))
        except ConfigError as error:
            refused = error
    assert refused.message.startswith("agreements in"), refused.message
    return refused


def _compiles_or_refuses(agreements: list[Any] | ConfigError) -> None:
    if isinstance(agreements, ConfigError):
        return
    for agreement in agreements:
        with contextlib.suppress(ConfigError):
            compile_agreement(agreement, PERSON_SCHEMA)


@fuzz_settings(0.5)
@given(changes=st.dictionaries(st.sampled_from([*sorted(VALID), "extra", "fields "]), values, max_size=4))
def test_a_valid_agreement_with_fields_replaced_by_anything_loads_or_is_refused_with_a_reason(
    changes: dict[str, Any],
) -> None:
    # given the reviewed agreement with some fields replaced by arbitrary YAML values
    document = {**VALID, **changes}
    # when it is loaded and compiled; then it is an agreement or a ConfigError, nothing else
    INPUTS["agreement_fields"] += 1
    _compiles_or_refuses(_load(yaml.safe_dump(document, allow_unicode=True)))


@fuzz_settings(0.5)
@given(data=st.data())
def test_agreement_text_mangled_at_the_byte_level_loads_or_is_refused_with_a_reason(
    data: st.DataObject,
) -> None:
    # given the reviewed agreement's YAML text with characters cut, inserted or swapped
    text = yaml.safe_dump(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        text = text[:at] + data.draw(st.text(max_size=8)) + text[at + cut :]
    # when it is loaded and compiled; then it is an agreement or a ConfigError, nothing else
    INPUTS["agreement_text"] += 1
    _compiles_or_refuses(_load(text))

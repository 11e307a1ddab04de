"""Pure specs of the tracker's wording and of the archive reader (no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.audit.errors import ArchiveDatabaseError
from bus.gateway.tracker import ArchiveReader
from bus.gateway.words import (
    LABELS,
    REASONS,
    UNKNOWN_REASON,
    Lang,
    explain_denial,
    label,
    negotiate,
    pick,
)
from bus.policy.evaluate import DenyReason


@pytest.mark.parametrize("reason", list(DenyReason))
@pytest.mark.parametrize("lang", list(Lang))
def test_every_deny_reason_has_a_sentence_in_every_language(reason: DenyReason, lang: Lang) -> None:
    assert REASONS[reason.value][lang]
    sentence = explain_denial(reason.value, lang)
    assert sentence.endswith(".")
    assert sentence != pick(UNKNOWN_REASON, lang).format(code=reason.value)  # not the fallback


def test_an_unknown_reason_is_named_rather_than_hidden() -> None:
    assert explain_denial("quota_exceeded", Lang.EN) == "Not sent (reason: quota_exceeded)."


@pytest.mark.parametrize("name", sorted(LABELS))
def test_every_label_exists_in_kazakh_russian_and_english(name: str) -> None:
    assert set(LABELS[name]) == set(Lang)


def test_a_missing_label_falls_back_to_its_name() -> None:
    assert label("no-such-label", Lang.KK) == "no-such-label"


@pytest.mark.parametrize(
    ("requested", "accept", "expected"),
    [
        ("ru", "kk", Lang.RU),  # ?lang= wins
        ("de", "kk-KZ,ru;q=0.5", Lang.KK),  # unknown ?lang= is ignored
        (None, "de-DE,ru;q=0.4,kk;q=0.6", Lang.KK),  # highest quality we have
        (None, "ru-RU", Lang.RU),
        (None, "de-DE,fr;q=0.8", Lang.EN),  # English fallback
        (None, "kk;q=0", Lang.EN),  # q=0 means "not this one"
        (None, None, Lang.EN),
    ],
)
def test_language_negotiation(requested: str | None, accept: str | None, expected: Lang) -> None:
    assert negotiate(requested, accept) is expected


def test_the_gateway_never_creates_a_sqlite_archive(tmp_path: Path) -> None:
    reader = ArchiveReader(f"sqlite:///{tmp_path / 'missing' / 'audit.sqlite'}")
    with pytest.raises(ArchiveDatabaseError, match="no audit archive"):
        reader.store()
    assert not (tmp_path / "missing").exists()

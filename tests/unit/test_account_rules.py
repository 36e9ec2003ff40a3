"""Properties of the account rules (domain.accounts), for any text: the email key is the
trimmed, case-folded address, and a display name never keeps a control character."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketdesk.domain.accounts import email_key, validate_name
from ticketdesk.domain.errors import ValidationError


@given(st.text())
def test_email_key_is_idempotent(email: str) -> None:
    assert email_key(email_key(email)) == email_key(email)


@given(
    email=st.emails(),
    flips=st.lists(st.booleans(), min_size=1, max_size=40),
    before=st.sampled_from(["", " ", "  ", "\t"]),
    after=st.sampled_from(["", " ", "\n"]),
)
def test_email_key_is_the_same_for_case_variants_and_padding(
    email: str, flips: list[bool], before: str, after: str
) -> None:
    variant = "".join(
        ch.swapcase() if ch.isascii() and flips[i % len(flips)] else ch
        for i, ch in enumerate(email)
    )
    assert email_key(before + variant + after) == email_key(email) == email.casefold()


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


@given(st.text(st.characters()))  # surrogates included
def test_validate_name_never_returns_a_control_character(name: str) -> None:
    try:
        accepted = validate_name(name)
    except ValidationError:
        return
    assert not any(_is_control(ch) for ch in accepted)
    assert accepted == accepted.strip()
    assert 1 <= len(accepted) <= 100


@given(
    start=st.text(max_size=20),
    control=st.characters(categories=["Cc", "Cs"]),
    end=st.text(max_size=20),
)
def test_validate_name_refuses_a_control_character_inside_a_name(
    start: str, control: str, end: str
) -> None:
    with pytest.raises(ValidationError):
        validate_name(f"Ada{start}{control}{end}Lovelace")

"""`parse_int`, the one parser of hand-parsed integer parameters: ASCII digits only, bounded length, in range;
anything else is a 422 naming the field, never a ValueError (a 500)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.render_load import parse_query
from ingest.routes import page_limit
from ingest.sse import last_event_id
from reelstream.params import InvalidRequest, ascii_int, parse_int
from reelstream.webhooks.retries import parse_retry_after
from tests.samples import T0

TRICKY = ["", " 1", "1 ", "+1", "-1", "1_0", "1.0", "0x1", "²", "١٢", "１２", "1e3", "9" * 5000, "\x00"]


@given(raw=st.text(), lo=st.integers(0, 10**6), span=st.integers(0, 10**6))
def test_parse_int_gives_the_number_exactly_when_the_text_is_ascii_digits_in_range(
    raw: str, lo: int, span: int
) -> None:
    hi = lo + span
    expected = int(raw) if raw.isascii() and raw.isdigit() and lo <= int(raw) <= hi else None
    if expected is not None:
        assert parse_int("limit", raw, lo, hi) == expected
        return
    with pytest.raises(InvalidRequest) as refused:
        parse_int("limit", raw, lo, hi)
    assert [e.field for e in refused.value.errors] == ["limit"]
    assert f"between {lo} and {hi}" in refused.value.errors[0].message


@given(value=st.integers(0, 10**9), lo=st.integers(0, 10**9), hi=st.integers(0, 10**9))
def test_every_number_in_range_is_accepted_with_or_without_leading_zeros(
    value: int, lo: int, hi: int
) -> None:
    if lo <= value <= hi:
        assert parse_int("n", str(value), lo, hi) == value
    else:
        with pytest.raises(InvalidRequest):
            parse_int("n", str(value), lo, hi)


@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=40), cap=st.integers(1, 20))
def test_ascii_int_refuses_what_is_longer_than_its_bound(digits: str, cap: int) -> None:
    assert ascii_int(digits, cap) == (int(digits) if len(digits) <= cap else None)


def test_absent_is_the_default_and_absent_without_one_is_an_error() -> None:
    assert parse_int("limit", None, 1, 100, default=20) == 20
    with pytest.raises(InvalidRequest):
        parse_int("limit", None, 1, 100)


@pytest.mark.parametrize("raw", TRICKY)
def test_every_hand_parsed_integer_refuses_the_tricky_forms_by_name(raw: str) -> None:
    with pytest.raises(InvalidRequest) as listed:
        page_limit(raw)
    assert listed.value.errors[0].field == "limit"
    with pytest.raises(InvalidRequest) as load:
        parse_query({"limit": raw})
    assert load.value.errors[0].field == "limit"


class _Headers:
    def __init__(self, value: str) -> None:
        self.headers = {"last-event-id": value}


@pytest.mark.parametrize("raw", TRICKY)
def test_header_integers_that_are_not_ascii_digits_count_as_absent(raw: str) -> None:
    assert last_event_id(_Headers(raw)) is None  # type: ignore[arg-type]
    if raw.strip() and not raw.strip().isascii():
        assert parse_retry_after(raw, T0) is None  # "²" made int() raise in the notifier

"""Where an inbox record stands against the last offset of its partition a stage applied: pure."""

from __future__ import annotations

from enum import Enum


class InboxOrder(Enum):
    """Where a record stands against the last offset of its partition that the stage took."""

    NEXT = "next"  # the record after it (or nothing is known yet): apply it
    SEEN = "seen"  # applied already: a redelivery after a restart, skipped
    AHEAD = "ahead"  # records between were never handed over: read them from the log first (LogReader)


def inbox_order(applied: int | None, offset: int) -> InboxOrder:
    """The stages' source topics are neither compacted nor transactional, so their offsets have no gaps:
    the record after the one taken must come next. `applied` None: nothing known yet, take what comes."""
    if applied is None or offset == applied + 1:
        return InboxOrder.NEXT
    return InboxOrder.SEEN if offset <= applied else InboxOrder.AHEAD

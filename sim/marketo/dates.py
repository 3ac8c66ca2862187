"""Marketo's date-times, one parser for every API sim reads (docs/import.md, docs/compare.md).

Marketo writes them in several ISO 8601 forms: the Asset API as
``"2024-03-04T09:15:00Z+0000"`` (a ``Z`` and then the offset, as its docs show it), the
Lead Database and Bulk Extract APIs as ``"2024-03-04T09:15:00Z"``; ``+0000``,
``+00:00`` and no offset at all (UTC) are read too. A date alone (``"2024-03-04"``,
midnight UTC) is read only where the caller allows it (an activity's date).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: The Asset API's "Z" followed by an offset ("...Z+0000"): the offset alone is kept.
_Z_THEN_OFFSET = re.compile(r"Z(?=[+-]\d\d:?\d\d$)")


def parse_datetime(value: object, *, date_only: bool = False) -> datetime | None:
    """``value`` as a date-time in UTC, or None when it is not one of Marketo's forms
    (a date alone only when ``date_only``)."""
    if not isinstance(value, str):
        return None
    text = _Z_THEN_OFFSET.sub("", value.strip(), count=1)
    if not text or (not date_only and "T" not in text and " " not in text):
        return None
    try:
        date = datetime.fromisoformat(text)
    except ValueError:
        return None
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)

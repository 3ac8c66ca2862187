"""An instance's traffic, read from its activity export: the external activities that
become the load (a CSV replay), and what the scenario must declare for them.

`Traffic` is the interface between the activity reader (this module) and the scenario
builder (`sim.marketo.translate`): the builder declares the people, fields and duration it
names, and the `[[load]]` table that replays `Traffic.replay`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs


@attrs.frozen(kw_only=True)
class Traffic:
    """The external activities of an export, as a replay, and what the scenario needs."""

    #: t = 0 of the simulation: the first external activity's time (UTC).
    start: datetime
    #: Seconds to simulate: the external activities' span and time for the queue to drain.
    duration: float
    #: The CSV replay's text (docs/scenarios.md, "CSV replay"), rows sorted by time.
    replay: str
    #: Person ids (lead ids) the scenario must declare with [[person]]: everyone a replay
    #: row names before (or without) a form fill creating them.
    people: tuple[str, ...]
    #: Fields the replay writes (form fields, external data value changes): each must be
    #: declared in [fields]; the value is the default to declare ("" for text, 0 for numbers).
    fields: Mapping[str, str | float]
    #: Campaigns the replay requests through the API (`request_campaign` rows), by name.
    requested: tuple[str, ...]
    #: Activity type name -> how many rows became the load.
    external: Mapping[str, int]
    #: Activity type name -> how many rows a campaign produced (kept for `sim compare`).
    produced: Mapping[str, int]
    #: Activity type name -> how many rows neither (not modelled), for the import report.
    skipped: Mapping[str, int]

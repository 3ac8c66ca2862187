"""An instance's traffic, read from its activity export: the external activities that
become the load (a CSV replay), and what the scenario must declare for them.

`Traffic` is the interface between the activity reader (this module) and the scenario
builder (`sim.marketo.translate`): the builder declares the people, fields and duration it
names, and the `[[load]]` table that replays `Traffic.replay`. `sim compare` reads the
rows a campaign produced (`Traffic.produced_rows`) to set them against a simulation.

Build one with `read_traffic(paths, types=...)`. The choices (docs/compare.md):

- which activity is external, produced or skipped: `sim.marketo.external`;
- t = 0 is the first external activity; rows are sorted by (time, file order: the files
  in the order given, each in its own order), never by anything else, so the same files
  give the same replay byte for byte;
- the duration is the export's span, from t = 0 to its last activity of any kind, plus
  `DRAIN` (an hour) for the queue to drain, in whole seconds;
- the people to declare are the leads a replay row names before (or without) a form fill
  of theirs creating them (docs/scenarios.md, "CSV replay");
- the fields to declare are those the replay writes; a field whose every written value
  is a number holds numbers (default 0), any other holds text (default "");
- an activity seen twice (the same marketoGUID, e.g. in a CSV and a JSON page) counts once.
"""

from __future__ import annotations

import array
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from sim.marketo.activities import ActivityRecord, Problems, read_activity_records
from sim.marketo.activity_types import ActivityType, default_activity_types
from sim.marketo.external import classify
from sim.marketo.problems import ExportError, ExportProblem
from sim.scenario.dump import replay_line

#: How often `read_traffic` reports its progress, in rows.
PROGRESS_ROWS = 50_000

#: Seconds simulated after the export's last activity, for the queue to drain.
DRAIN = 3600.0

#: The CSV replay's columns before the form fields (docs/scenarios.md, "CSV replay").
REPLAY_COLUMNS = ("time", "person", "activity", "form", "link", "page", "field", "value", "campaign", "source")

#: An external row's shape: (activity, attributes, form fields), each a tuple of pairs.
Shape = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


@attrs.frozen(kw_only=True)
class Rows:
    """Activities as columns, sorted by (time, file order): row ``i`` is at ``times[i]``
    seconds from `Traffic.start`, for lead ``leads[i]``, of type ``names[kinds[i]]``
    (the sim activity type for external rows, the Marketo name for produced ones), by the
    campaign ``campaigns[i]`` (0: none). A million rows take tens of MB."""

    times: array.array[float] = attrs.field(factory=lambda: array.array("d"))
    leads: tuple[str, ...] = ()
    kinds: array.array[int] = attrs.field(factory=lambda: array.array("I"))
    names: tuple[str, ...] = ()
    campaigns: array.array[int] = attrs.field(factory=lambda: array.array("q"))

    def __len__(self) -> int:
        return len(self.times)


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
    #: Each (campaign, source) the replay requests -> where its first row is (file, line or JSON path).
    requests: Mapping[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)
    #: Activity type name -> how many rows became the load.
    external: Mapping[str, int]
    #: Activity type name -> how many rows a campaign produced (kept for `sim compare`).
    produced: Mapping[str, int]
    #: Activity type name -> how many rows neither (not modelled), for the import report.
    skipped: Mapping[str, int]
    #: The external rows (kinds name sim activity types), in replay order.
    external_rows: Rows = attrs.field(factory=Rows)
    #: The rows with a campaignId, modelled or not (kinds name Marketo types), for compare.
    produced_rows: Rows = attrs.field(factory=Rows)
    #: The files read, as given, and how many activities they held (duplicates included).
    files: tuple[str, ...] = ()
    records: int = 0
    #: Activities left out because an earlier file (or row) had the same marketoGUID.
    duplicates: int = 0


def read_traffic(
    paths: Sequence[str],
    *,
    types: Mapping[int, ActivityType] | None = None,
    campaign_names: Mapping[int, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Traffic:
    """The traffic of activity export files (Bulk Activity Extract CSV and Get Lead
    Activities JSON pages, in any mix), read in the order given.

    ``progress`` hears (file, rows read of it) every `PROGRESS_ROWS` rows and at each
    file's end: a million-row export takes a minute or more.

    ``types``: the instance's activity types (`sim.marketo.activities.read_activity_types`
    of its ``activities/types.json``), the documented defaults when None.
    ``campaign_names``: Marketo campaign id -> scenario campaign name, for the campaign an
    API Request Campaign names (by its primaryAttributeValueId); without it, the name
    the export gives. Raises ExportError with every problem of every file.
    """
    problems = Problems()

    def records() -> Iterable[ActivityRecord]:
        for path in paths:
            if progress is None:
                yield from read_activity_records(path, problems)
                continue
            count = 0
            for count, record in enumerate(read_activity_records(path, problems), 1):
                if count % PROGRESS_ROWS == 0:
                    progress(path, count)
                yield record
            progress(path, count)

    try:
        traffic = build_traffic(records(), types=types, campaign_names=campaign_names, files=tuple(paths))
    except ExportError:
        problems.raise_any()  # "no activities" because every row was bad: the rows' problems say why
        raise
    problems.raise_any()
    return traffic


def build_traffic(
    records: Iterable[ActivityRecord],
    *,
    types: Mapping[int, ActivityType] | None = None,
    campaign_names: Mapping[int, str] | None = None,
    files: tuple[str, ...] = (),
) -> Traffic:
    """`read_traffic` of records already read (in file order)."""
    collector = _Collector(
        types=default_activity_types() if types is None else types, campaign_names=campaign_names or {}
    )
    for record in records:
        collector.add(record)
    if not collector.count:
        where = files[0] if files else "<no files>"
        raise ExportError([ExportProblem(file=where, where="", message="no activities: give an activity export")])
    return collector.traffic(files)


@attrs.define(eq=False, kw_only=True)
class _Collector:
    """Takes the records one by one, keeping what a Traffic needs as columns."""

    types: Mapping[int, ActivityType]
    campaign_names: Mapping[int, str]
    count: int = 0
    duplicates: int = 0
    guids: set[str] = attrs.field(factory=set)
    leads: dict[str, str] = attrs.field(factory=dict)  # one shared string per lead
    counts: dict[str, dict[str, int]] = attrs.field(factory=lambda: {"external": {}, "produced": {}, "skipped": {}})
    last: float = -math.inf  # the latest activity of any kind (a timestamp)
    # external rows
    ext_times: array.array[float] = attrs.field(factory=lambda: array.array("d"))
    ext_leads: list[str] = attrs.field(factory=list)
    ext_kinds: array.array[int] = attrs.field(factory=lambda: array.array("I"))
    shapes: dict[Shape, int] = attrs.field(factory=dict)
    # produced rows
    pro_times: array.array[float] = attrs.field(factory=lambda: array.array("d"))
    pro_leads: list[str] = attrs.field(factory=list)
    pro_kinds: array.array[int] = attrs.field(factory=lambda: array.array("I"))
    pro_names: dict[str, int] = attrs.field(factory=dict)
    pro_campaigns: array.array[int] = attrs.field(factory=lambda: array.array("q"))
    first_any: float = math.inf
    requests: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)

    def add(self, record: ActivityRecord) -> None:
        self.count += 1
        if record.guid:
            if record.guid in self.guids:
                self.duplicates += 1
                return
            self.guids.add(record.guid)
        stamp = record.date.timestamp()
        self.last = max(self.last, stamp)
        self.first_any = min(self.first_any, stamp)
        lead = self.leads.setdefault(record.lead, record.lead)
        found = classify(record, self.types, self.campaign_names)
        counts = self.counts[found.kind]
        counts[found.label] = counts.get(found.label, 0) + 1
        if found.row is not None:
            self.ext_times.append(stamp)
            self.ext_leads.append(lead)
            self.ext_kinds.append(self.shapes.setdefault(found.row, len(self.shapes)))
            if found.row[0] == "request_campaign":
                self.requests.setdefault((found.row[1][0][1], found.row[1][1][1]), (record.file, record.where))
        elif found.by_campaign:
            self.pro_times.append(stamp)
            self.pro_leads.append(lead)
            self.pro_kinds.append(self.pro_names.setdefault(found.label, len(self.pro_names)))
            self.pro_campaigns.append(record.campaign_id or 0)

    def traffic(self, files: tuple[str, ...]) -> Traffic:
        start = min(self.ext_times) if self.ext_times else self.first_any
        shapes = tuple(self.shapes)
        external = _sorted_rows(
            self.ext_times, self.ext_leads, self.ext_kinds, tuple(shape[0] for shape in shapes), None, start
        )
        produced = _sorted_rows(
            self.pro_times, self.pro_leads, self.pro_kinds, tuple(self.pro_names), self.pro_campaigns, start
        )
        replay, people, fields, requested = _replay(external, [shapes[kind] for kind in external.kinds])
        return Traffic(
            start=datetime.fromtimestamp(start, UTC),
            duration=float(math.ceil(self.last - start)) + DRAIN,
            replay=replay,
            people=people,
            fields=fields,
            requested=requested,
            requests=self.requests,
            external=_by_name(self.counts["external"]),
            produced=_by_name(self.counts["produced"]),
            skipped=_by_name(self.counts["skipped"]),
            external_rows=external,
            produced_rows=produced,
            files=files,
            records=self.count,
            duplicates=self.duplicates,
        )


def _sorted_rows(
    times: array.array[float],
    leads: list[str],
    kinds: array.array[int],
    names: tuple[str, ...],
    campaigns: array.array[int] | None,
    start: float,
) -> Rows:
    """Columns sorted by (time, the order they came in), times made relative to ``start``
    and kept to the microsecond as sim's clock is."""
    order = sorted(range(len(times)), key=times.__getitem__)  # stable: file order on ties
    return Rows(
        times=array.array("d", (round(times[i] - start, 6) for i in order)),
        leads=tuple(leads[i] for i in order),
        kinds=array.array("I", (kinds[i] for i in order)),
        names=names,
        campaigns=array.array("q", (campaigns[i] for i in order)) if campaigns is not None else array.array("q"),
    )


def _replay(
    rows: Rows, shapes: Sequence[Shape]
) -> tuple[str, tuple[str, ...], dict[str, str | float], tuple[str, ...]]:
    """The replay's text, and the people, fields and requested campaigns it names."""
    field_values: dict[str, bool] = {}  # field -> whether every value is a number
    requested: dict[str, None] = {}
    for activity, attributes, fields in dict.fromkeys(shapes):
        written = list(fields)
        if activity == "change_data_value":
            values = dict(attributes)
            written.append((values["field"], values["value"]))
        for name, value in written:
            field_values[name] = field_values.get(name, True) and (value == "NULL" or _is_number(value))
        if activity == "request_campaign":
            requested[dict(attributes)["campaign"]] = None
    form_columns = sorted({name for _, _, fields in shapes for name, _ in fields})
    out = io.StringIO()
    out.write(replay_line([*REPLAY_COLUMNS, *(f"field.{name}" for name in form_columns)]))
    created: set[str] = set()
    people: dict[str, None] = {}
    position = {name: at for at, name in enumerate(REPLAY_COLUMNS)}
    position.update({f"field.{name}": len(REPLAY_COLUMNS) + at for at, name in enumerate(form_columns)})
    width = len(position)
    for at, lead, (activity, attributes, fields) in zip(rows.times, rows.leads, shapes, strict=True):
        if activity == "fill_out_form":
            created.add(lead)
        elif lead not in created:
            people[lead] = None
        cells = [""] * width
        cells[0], cells[1], cells[2] = _seconds(at), lead, activity
        for name, value in attributes:
            cells[position[name]] = value
        for name, value in fields:
            cells[position[f"field.{name}"]] = value
        out.write(replay_line(cells))
    fields_out: dict[str, str | float] = {name: 0 if numeric else "" for name, numeric in sorted(field_values.items())}
    return out.getvalue(), tuple(people), fields_out, tuple(requested)


def _is_number(text: str) -> bool:
    """Whether a scenario reads ``text`` as a number it accepts (finite, within 2^53 - 1)."""
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and abs(number) <= 2**53 - 1


def _seconds(seconds: float) -> str:
    """Seconds from t = 0 as a replay's time cell: "0", "65", "90.5"."""
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _by_name(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))

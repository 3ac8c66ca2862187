"""Frozen specs of a scenario: campaigns, smart lists, flows, people and load.

Pure data with no trio and no I/O: `sim.scenario` builds these from a TOML file and
checks them, the engine runs them. Every collection is a tuple or a dict keyed by a
user-given name (insertion order is file order, so iteration is deterministic).
Durations are seconds of virtual time; step indexes are 1-based as in Marketo's UI.
"""

from __future__ import annotations

import array
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

import attrs

#: A person field value. ``None`` is the empty value ("NULL" in a Change Data Value).
Value = str | int | float | bool | None

CampaignKind = Literal["trigger", "batch", "executable"]

#: How a generator spaces its activities (``[[load]] arrivals``).
ARRIVALS = ("constant", "poisson")

#: Comparison operators of a field filter, as written in scenario files.
FIELD_OPERATORS = (
    "is",
    "is not",
    "contains",
    "not contains",
    "starts with",
    "greater than",
    "less than",
    "at least",
    "at most",
    "is empty",
    "is not empty",
)

#: Trigger name -> the activity type it listens to (R1, R17).
TRIGGER_ACTIVITIES: Mapping[str, str] = {
    "fills_out_form": "fill_out_form",
    "clicks_link": "click_link",
    "visits_page": "visit_page",
    "data_value_changes": "change_data_value",
    "score_is_changed": "change_score",
    "added_to_list": "add_to_list",
    "program_status_is_changed": "change_program_status",
    "campaign_is_requested": "request_campaign",
}

#: Trigger name -> the constraints it accepts (each an attribute of the activity).
TRIGGER_CONSTRAINTS: Mapping[str, tuple[str, ...]] = {
    "fills_out_form": ("form",),
    "clicks_link": ("link",),
    "visits_page": ("page",),
    "data_value_changes": ("field", "new_value", "old_value"),
    "score_is_changed": ("field",),
    "added_to_list": ("list",),
    "program_status_is_changed": ("program", "new_status", "old_status"),
    "campaign_is_requested": ("source",),
}

#: Where a "Campaign is Requested" can come from (R3).
REQUEST_SOURCES = ("marketo_flow_action", "web_service_api", "sales_insight")

#: Activity types an external stream may inject, with the attributes each takes.
EXTERNAL_ACTIVITIES: Mapping[str, tuple[str, ...]] = {
    "fill_out_form": ("form",),
    "click_link": ("link",),
    "visit_page": ("page",),
    "change_data_value": ("field", "value"),
    "request_campaign": ("campaign", "source"),
}

#: A token in a text value: {{my.NAME}}, {{lead.FIELD}} or {{trigger.NAME}} (R10).
TOKEN = re.compile(r"\{\{\s*([a-zA-Z_]+)\.([^}]+?)\s*\}\}")

#: Webhook response time limit (R16): Marketo stops waiting after 30 s.
WEBHOOK_TIMEOUT = 30.0

#: The largest number a field, filter or score change may hold: 2**53 - 1, up to which a
#: float holds every integer exactly. Scenario files are checked against it; a score that
#: a run would take beyond it stops there (saturates), so no run reaches infinity.
MAX_NUMBER = 2**53 - 1


# --- smart lists ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FieldFilter:
    """``field op value``: holds when the person's field compares true (R13)."""

    field: str
    op: str
    values: tuple[Value, ...] = ()


@attrs.frozen(kw_only=True)
class ListFilter:
    """Member (or not) of a static list."""

    list: str
    member: bool = True


@attrs.frozen(kw_only=True)
class ProgramStatusFilter:
    """The person's status in a program is (or is not) ``status``."""

    program: str
    status: str
    negate: bool = False


Filter = FieldFilter | ListFilter | ProgramStatusFilter


@attrs.frozen(kw_only=True)
class Trigger:
    """A smart-list trigger (R1): fires on an activity whose attributes match.

    ``constraints`` maps an activity attribute to the values it may take (any of).
    """

    name: str
    constraints: tuple[tuple[str, tuple[Value, ...]], ...] = ()

    @property
    def activity(self) -> str:
        return TRIGGER_ACTIVITIES[self.name]


@attrs.frozen(kw_only=True)
class Qualification:
    """R18: ``once`` (default), ``every_time``, or ``once_every`` ``interval`` seconds."""

    rule: Literal["once", "every_time", "once_every"] = "once"
    interval: float = 0.0


@attrs.frozen(kw_only=True)
class Schedule:
    """R2: a batch campaign runs at ``at`` and, if ``every`` is set, again every period."""

    at: float
    every: float | None = None


# --- flow steps ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChangeDataValue:
    field: str
    value: Value  # None clears the field ("NULL"); strings may hold {{tokens}}


@attrs.frozen(kw_only=True)
class ChangeScore:
    field: str
    op: Literal["+", "-", "="]
    amount: float


@attrs.frozen(kw_only=True)
class ChangeProgramStatus:
    program: str
    status: str


@attrs.frozen(kw_only=True)
class AddToList:
    list: str


@attrs.frozen(kw_only=True)
class RemoveFromList:
    list: str


@attrs.frozen(kw_only=True)
class InterestingMoment:
    description: str


@attrs.frozen(kw_only=True)
class SendEmail:
    email: str


@attrs.frozen(kw_only=True)
class SendAlert:
    alert: str
    to: str = ""


@attrs.frozen(kw_only=True)
class CallWebhook:
    """R16: the response arrives after ``latency``; the run waits at most 30 s."""

    webhook: str
    latency: float
    status: int = 200
    response: tuple[tuple[str, Value], ...] = ()  # field <- value, written on 2xx
    #: The request body; its tokens are resolved when the call is made (R10).
    payload: str = ""


@attrs.frozen(kw_only=True)
class Wait:
    duration: float


@attrs.frozen(kw_only=True)
class RequestCampaign:
    campaign: str


@attrs.frozen(kw_only=True)
class ExecuteCampaign:
    campaign: str
    use_parent_tokens: bool = False


@attrs.frozen(kw_only=True)
class RemoveFromFlow:
    campaigns: tuple[str, ...]


Action = (
    ChangeDataValue
    | ChangeScore
    | ChangeProgramStatus
    | AddToList
    | RemoveFromList
    | InterestingMoment
    | SendEmail
    | SendAlert
    | CallWebhook
    | Wait
    | RequestCampaign
    | ExecuteCampaign
    | RemoveFromFlow
)

#: Step kind as written in scenario files -> its action class.
STEP_KINDS: Mapping[str, type[Action]] = {
    "change_data_value": ChangeDataValue,
    "change_score": ChangeScore,
    "change_program_status": ChangeProgramStatus,
    "add_to_list": AddToList,
    "remove_from_list": RemoveFromList,
    "interesting_moment": InterestingMoment,
    "send_email": SendEmail,
    "send_alert": SendAlert,
    "call_webhook": CallWebhook,
    "wait": Wait,
    "request_campaign": RequestCampaign,
    "execute_campaign": ExecuteCampaign,
    "remove_from_flow": RemoveFromFlow,
}


@attrs.frozen(kw_only=True)
class Choice:
    """R13: ``if`` all ``conditions`` hold, do ``action``."""

    conditions: tuple[Filter, ...]
    action: Action


@attrs.frozen(kw_only=True)
class Step:
    """One flow step. With choices, ``action`` is the default choice (None: do nothing)."""

    kind: str
    action: Action | None
    choices: tuple[Choice, ...] = ()

    def actions(self) -> Iterator[Action]:
        """The actions the step may take: its own (unless it is "do nothing"), then each
        choice's."""
        if self.action is not None:
            yield self.action
        for choice in self.choices:
            yield choice.action


# --- campaigns and programs ------------------------------------------------------


@attrs.frozen(kw_only=True)
class Program:
    name: str
    statuses: tuple[str, ...] = ("Not in Program", "Member")
    tokens: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Campaign:
    name: str
    kind: CampaignKind
    program: str | None = None
    active: bool = True
    triggers: tuple[Trigger, ...] = ()
    filters: tuple[Filter, ...] = ()
    qualification: Qualification = Qualification()
    schedule: Schedule | None = None
    flow: tuple[Step, ...] = ()
    #: R21: an admin's override of a trigger campaign's priority, for runs queued at or
    #: after ``priority_from``; None: the priority its flow gives (R19).
    priority: Priority | None = None
    priority_from: float = 0.0
    #: The id of the Marketo smart campaign this one was imported from (`sim import`);
    #: `sim compare` matches an export's rows (their campaignId) to campaigns by it.
    marketo_id: int | None = None


# --- people and load -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FieldSpec:
    """A person field: its default, or a distribution people draw their value from."""

    name: str
    default: Value
    values: tuple[Value, ...] = ()
    weights: tuple[float, ...] = ()


@attrs.frozen(kw_only=True)
class PersonSpec:
    """An explicit person; fields not given take their declared defaults."""

    id: str
    fields: Mapping[str, Value] = attrs.field(factory=dict)
    lists: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ExternalActivity:
    """A timed activity from outside Marketo's flows (a form fill, an API request)."""

    at: float
    person: str
    type: str
    attributes: Mapping[str, Value] = attrs.field(factory=dict)
    fields: Mapping[str, Value] = attrs.field(factory=dict)  # written by a form fill


@attrs.frozen(kw_only=True)
class Generator:
    """Activities at a rate, each for a person drawn from the population: one ``[[load]]``
    table with a ``rate`` or a ``daily`` profile.

    ``arrivals`` spaces them: ``constant`` (evenly) or ``poisson`` (exponential gaps).
    ``daily``, when given, is the rate of each hour of the day (24, per second), and
    ``rate`` their mean. ``fields`` values are tuples to draw from (one: always that one).
    ``new_people`` is the share of arrivals (fill_out_form only) made by people not known
    yet: each creates a person, ``new1``, ``new2``, ... in the order they are created.
    """

    type: str
    rate: float  # per second
    arrivals: Literal["constant", "poisson"] = "constant"
    daily: tuple[float, ...] = ()
    start: float = 0.0
    stop: float | None = None
    attributes: Mapping[str, Value] = attrs.field(factory=dict)
    fields: Mapping[str, tuple[Value, ...]] = attrs.field(factory=dict)
    new_people: float = 0.0


@attrs.frozen(kw_only=True)
class Replay:
    """A ``[[load]]`` table with ``csv``: the timed activities of a CSV file, in time order
    (rows at the same time keep the file's order).

    Held as columns, not as an `ExternalActivity` per row, so that a million rows take
    about 20 MB: row ``i`` is at ``times[i]`` for ``people[i]``, and is
    ``templates[kinds[i]]`` (its type, attributes and form fields; rows that write the same
    share one). ``csv`` is the file's path, resolved when the scenario loaded.
    """

    csv: str
    times: array.array[float] = attrs.field(factory=lambda: array.array("d"))
    people: tuple[str, ...] = ()
    kinds: array.array[int] = attrs.field(factory=lambda: array.array("I"))
    templates: tuple[ExternalActivity, ...] = ()

    @classmethod
    def of(cls, csv: str, activities: Iterable[ExternalActivity]) -> Replay:
        """The replay of ``activities`` (any order: they are sorted by time, stably)."""
        rows = sorted(activities, key=lambda a: a.at)
        templates: dict[tuple[str, str, str], int] = {}
        kinds = array.array("I")
        shapes: list[ExternalActivity] = []
        for row in rows:
            key = (row.type, repr(sorted(row.attributes.items())), repr(list(row.fields.items())))
            if key not in templates:
                templates[key] = len(shapes)
                shapes.append(
                    ExternalActivity(at=0.0, person="", type=row.type, attributes=row.attributes, fields=row.fields)
                )
            kinds.append(templates[key])
        return cls(
            csv=csv,
            times=array.array("d", (row.at for row in rows)),
            people=tuple(row.person for row in rows),
            kinds=kinds,
            templates=tuple(shapes),
        )

    def __len__(self) -> int:
        return len(self.times)

    def activities(self) -> Iterator[ExternalActivity]:
        """The rows as activities, in time order; each made when it is reached."""
        templates = self.templates
        for at, person, kind in zip(self.times, self.people, self.kinds, strict=True):
            shape = templates[kind]
            yield ExternalActivity(
                at=at, person=person, type=shape.type, attributes=shape.attributes, fields=shape.fields
            )


# --- the campaign queue (R19-R22) ---------------------------------------------------

#: Priority classes, highest first (R19).
Priority = Literal["high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")

#: How a step's service time is drawn.
DISTRIBUTIONS = ("constant", "exponential", "lognormal", "empirical")


@attrs.frozen(kw_only=True)
class ServiceTime:
    """How long a step holds its worker, in seconds: a distribution (R22).

    ``constant``: always ``mean``. ``exponential``: mean ``mean``. ``lognormal``: mean
    ``mean`` and standard deviation ``sd`` (of the times, not of their logarithm).
    ``empirical``: one of ``values``, each equally likely.
    """

    distribution: Literal["constant", "exponential", "lognormal", "empirical"] = "constant"
    mean: float = 0.0
    sd: float = 0.0
    values: tuple[float, ...] = ()


#: Service time of each step kind when ``[queue.service]`` does not say (model choices:
#: Marketo publishes none). A webhook holds its worker for its latency, at most 30 s
#: (R16), on top of this; a Wait gives the worker back (R15); an Execute Campaign step's
#: child steps take their own time.
DEFAULT_SERVICE: Mapping[str, float] = {
    "change_data_value": 0.02,
    "change_score": 0.02,
    "change_program_status": 0.03,
    "add_to_list": 0.02,
    "remove_from_list": 0.02,
    "interesting_moment": 0.02,
    "send_email": 0.05,
    "send_alert": 0.05,
    "call_webhook": 0.0,
    "wait": 0.0,
    "request_campaign": 0.02,
    "execute_campaign": 0.0,
    "remove_from_flow": 0.02,
}


#: Step kinds whose time is spent elsewhere (a Wait's duration, a webhook's latency, an
#: executed child's steps): ``[queue.service] default`` leaves them at 0.
ZERO_SERVICE = frozenset(("wait", "call_webhook", "execute_campaign"))


@attrs.frozen(kw_only=True)
class Queue:
    """The campaign queue: workers, and how long each step kind takes (R20, R22).

    Trigger runs (requested runs too) and batch runs wait in separate queues with
    workers of their own (R20). ``service`` has an entry for every step kind.
    """

    workers: int = 10
    batch_workers: int = 10
    service: Mapping[str, ServiceTime] = attrs.field(
        factory=lambda: {kind: ServiceTime(mean=mean) for kind, mean in DEFAULT_SERVICE.items()}
    )


@attrs.frozen(kw_only=True)
class Problem:
    """One thing wrong (or suspicious) in a scenario file, with where it was written."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{where} {self.message}"


@attrs.frozen(kw_only=True)
class Scenario:
    """A whole scenario file, checked: names resolve and every rule holds."""

    source: str = "<scenario>"
    seed: int = 0
    duration: float = 86400.0
    step_budget: int = 10_000
    fields: Mapping[str, FieldSpec] = attrs.field(factory=dict)
    lists: tuple[str, ...] = ()
    programs: Mapping[str, Program] = attrs.field(factory=dict)
    campaigns: Mapping[str, Campaign] = attrs.field(factory=dict)
    population: int = 0
    people: tuple[PersonSpec, ...] = ()
    activities: tuple[ExternalActivity, ...] = ()
    generators: tuple[Generator, ...] = ()
    #: ``[[load]]`` tables with ``csv``, in file order; their rows and ``activities``
    #: arrive merged by time (`sim.run.arrivals.external_activities`).
    replays: tuple[Replay, ...] = ()
    #: The campaign queue; None: unlimited workers and steps that take no time, the
    #: model for ordering questions.
    queue: Queue | None = None
    #: Valid but almost surely unintended (an activity after the end, an unused executable).
    warnings: tuple[Problem, ...] = ()


def same_value(a: Value, b: Value) -> bool:
    """Equality as a filter sees it: case-blind for strings, 5 == 5.0 for numbers."""
    if type(a) is str and type(b) is str:  # the common case, first: no bool to rule out
        return a == b or a.casefold() == b.casefold()
    if isinstance(a, bool) is not isinstance(b, bool):
        return False  # True is not 1 in a smart list
    return _folded(a) == _folded(b)


def _folded(value: Value) -> Value:
    return value.casefold() if isinstance(value, str) else value

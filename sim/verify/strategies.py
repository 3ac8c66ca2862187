"""Hypothesis strategies that generate valid campaign designs.

Every scenario `scenarios()` draws passes the definition checks of ``sim check`` (R3, R4,
R8, R9, R16, known names, good values): tests/test_strategies.py proves it by writing each
one to TOML and reading it back. Designs are small and built from a fixed vocabulary (two
forms, two lists, one program, a few fields and values), so that independently drawn
steps, filters and triggers touch the same state: that is where cascades and races come
from. Everything shrinks towards fewer campaigns, shorter flows and simpler steps, and the
simplest step kind is ``send_email``, which always logs, so a shrunk counterexample reads
as a short story.

Import them from `sim.testing`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import overload

import attrs
from hypothesis import strategies as st

from sim.scenario import model
from sim.scenario.model import (
    Action,
    Campaign,
    CampaignKind,
    Choice,
    ExternalActivity,
    FieldFilter,
    FieldSpec,
    Filter,
    ListFilter,
    PersonSpec,
    Program,
    ProgramStatusFilter,
    Qualification,
    Queue,
    Scenario,
    Schedule,
    ServiceTime,
    Step,
    Trigger,
    Value,
)

# -- the vocabulary every generated design shares ------------------------------------

#: The program of generated designs, with statuses in progression order (R14).
PROGRAM = Program(name="Lifecycle", statuses=("Not in Program", "Member", "Engaged", "MQL"), tokens={"owner": "Sales"})
LISTS = ("Newsletter", "MQL")
FORMS = ("Contact Us", "Demo Request")
#: Field -> its spec: ``stage`` is what campaigns write and read.
FIELDS: Mapping[str, FieldSpec] = {
    "score": FieldSpec(name="score", default=0),
    "stage": FieldSpec(name="stage", default="Known"),
    "country": FieldSpec(name="country", default="US"),
}
STAGES: tuple[Value, ...] = ("Known", "Engaged", "MQL")
#: Times (seconds) that activities, schedules and waits are drawn from: few, so that
#: independently drawn ones coincide and runs become due at the same instant.
TIMES = (0.0, 60.0, 3600.0)
#: Person ids of explicit people, in the order they are drawn.
PERSON_IDS = ("alice", "bob", "carol", "dave", "erin", "frank")

#: Step kinds in shrinking order: the first is the simplest story.
SIMPLE_KINDS = (
    "send_email",
    "change_data_value",
    "change_score",
    "add_to_list",
    "remove_from_list",
    "change_program_status",
    "interesting_moment",
    "send_alert",
)

# campaign names by kind, numbered from 1
_NAMES: Mapping[str, str] = {
    "trigger": "Trigger {}",
    "requested": "Requested {}",
    "executable": "Executable {}",
    "batch": "Batch {}",
}

Range = tuple[int, int]


def _pairs(value: Mapping[str, int] | Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(name), int(level)) for name, level in items)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Design:
    """What a flow may refer to: the campaigns around it and what it may contain.

    ``executables`` pairs each executable with its nesting level (1..3); a flow at level
    L may execute only executables of a deeper level, so calls never cycle and never
    nest deeper than three (R8); a mapping of name to level works too. Hashable, so
    strategies built for a design are cached.
    """

    requestable: tuple[str, ...] = attrs.field(default=(), converter=_names)
    executables: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_pairs)
    campaigns: tuple[str, ...] = attrs.field(default=(), converter=_names)
    waits: bool = True
    webhooks: bool = True
    removals: bool = True
    max_steps: int = 4
    max_choices: int = 2


def _sized(design: Design, max_steps: int | None, max_choices: int | None) -> Design:
    """``design`` with the size bounds given as keywords, if any."""
    if max_steps is not None:
        design = attrs.evolve(design, max_steps=max_steps)
    if max_choices is not None:
        design = attrs.evolve(design, max_choices=max_choices)
    return design


# -- filters, values and actions -------------------------------------------------------


@functools.cache
def _filters() -> st.SearchStrategy[Filter]:
    return st.one_of(
        st.builds(
            FieldFilter,
            field=st.just("stage"),
            op=st.sampled_from(("is", "is not")),
            values=st.tuples(st.sampled_from(STAGES)),
        ),
        st.builds(
            FieldFilter,
            field=st.just("score"),
            op=st.sampled_from(("at least", "less than")),
            values=st.tuples(st.sampled_from((10, 50))),
        ),
        st.builds(ListFilter, list=st.sampled_from(LISTS), member=st.booleans()),
        st.builds(
            ProgramStatusFilter,
            program=st.just(PROGRAM.name),
            status=st.sampled_from(PROGRAM.statuses),
            negate=st.booleans(),
        ),
        st.builds(FieldFilter, field=st.just("country"), op=st.sampled_from(("is empty", "is not empty"))),
    )


@functools.cache
def _actions(kind: str, design: Design) -> st.SearchStrategy[Action]:
    """The action of one step of ``kind`` (what a choice or the default does)."""
    if kind == "send_email":
        return st.builds(model.SendEmail, email=st.sampled_from(("Welcome", "Follow-up")))
    if kind == "change_data_value":
        return st.one_of(
            st.builds(
                model.ChangeDataValue,
                field=st.just("stage"),
                value=st.sampled_from((*STAGES, None, "{{lead.country}}", "{{trigger.form}}")),
            ),
            st.builds(model.ChangeDataValue, field=st.just("score"), value=st.sampled_from((0, 60))),
        )
    if kind == "change_score":
        return st.builds(
            model.ChangeScore,
            field=st.just("score"),
            op=st.sampled_from(("+", "-", "=")),
            amount=st.sampled_from((10.0, 50.0)),
        )
    if kind in ("add_to_list", "remove_from_list"):
        cls = model.AddToList if kind == "add_to_list" else model.RemoveFromList
        return st.builds(cls, list=st.sampled_from(LISTS))
    if kind == "change_program_status":
        return st.builds(
            model.ChangeProgramStatus, program=st.just(PROGRAM.name), status=st.sampled_from(PROGRAM.statuses[1:])
        )
    if kind == "interesting_moment":
        return st.builds(model.InterestingMoment, description=st.sampled_from(("Visited", "From {{lead.country}}")))
    if kind == "send_alert":
        return st.builds(model.SendAlert, alert=st.just("Hot lead"), to=st.sampled_from(("", "sales@example.com")))
    if kind == "wait":
        return st.builds(model.Wait, duration=st.sampled_from((60.0, 0.0, 3600.0)))
    if kind == "call_webhook":
        return st.builds(
            model.CallWebhook,
            webhook=st.just("Enrich"),
            # 30 s exactly: the response and the run's next step are due together (R16);
            # 45 s: the run times out first and the response lands after later steps.
            latency=st.sampled_from((0.5, 30.0, 45.0)),
            status=st.sampled_from((200, 500)),
            response=st.sampled_from(((("stage", "Engaged"),), ())),
            payload=st.sampled_from(("", '{"country": "{{lead.country}}"}')),
        )
    if kind == "request_campaign":
        return st.builds(model.RequestCampaign, campaign=st.sampled_from(design.requestable))
    if kind == "execute_campaign":
        return st.builds(
            model.ExecuteCampaign,
            campaign=st.sampled_from([name for name, _ in design.executables]),
            use_parent_tokens=st.booleans(),
        )
    if kind == "remove_from_flow":
        return st.builds(model.RemoveFromFlow, campaigns=st.tuples(st.sampled_from(design.campaigns)))
    raise ValueError(f"unknown step kind {kind!r}")


def step_kinds(kind: CampaignKind, design: Design, *, level: int = 0) -> tuple[str, ...]:
    """The step kinds a campaign of ``kind`` at executable ``level`` may hold (R9, R16)."""
    kinds = list(SIMPLE_KINDS)
    if design.requestable:
        kinds.append("request_campaign")
    if any(other > level for _, other in design.executables):
        kinds.append("execute_campaign")
    if kind != "executable" and design.waits:
        kinds.append("wait")  # R9: no Wait in an executable
    if kind == "trigger" and design.webhooks:
        kinds.append("call_webhook")  # R16: trigger campaigns only
    if design.removals and design.campaigns:
        kinds.append("remove_from_flow")
    return tuple(kinds)


@functools.cache
def steps(
    kind: str, design: Design = Design(), *, level: int = 0, max_choices: int | None = None
) -> st.SearchStrategy[Step]:
    """One flow step of ``kind``, with up to ``max_choices`` (or the design's) choices (R13).

    Raises ValueError for a kind that ``design`` gives nothing to call or remove.
    """
    design = _sized(design, None, max_choices)
    if kind in _CALLS or kind == "remove_from_flow":
        targets = {
            "request_campaign": design.requestable,
            "execute_campaign": tuple(n for n, lvl in design.executables if lvl > level),
            "remove_from_flow": design.campaigns,
        }[kind]
        if not targets:
            raise ValueError(f"{kind} steps need a target: the design names none (at level {level})")
    if kind == "execute_campaign":
        # only deeper executables: no cycle, at most three levels (R8)
        design = attrs.evolve(design, executables=tuple((n, lvl) for n, lvl in design.executables if lvl > level))
    actions = _actions(kind, design)
    plain = st.builds(Step, kind=st.just(kind), action=actions)
    if not design.max_choices:
        return plain
    with_choices = st.builds(
        Step,
        kind=st.just(kind),
        choices=st.lists(
            st.builds(Choice, conditions=st.tuples(_filters()), action=actions),
            min_size=1,
            max_size=design.max_choices,
        ).map(tuple),
        action=st.none() | actions,  # the default; None: "do nothing"
    )
    return plain | with_choices


@functools.cache
def flows(
    kind: CampaignKind = "trigger",
    design: Design = Design(),
    *,
    level: int = 0,
    min_steps: int = 0,
    max_steps: int | None = None,
    max_choices: int | None = None,
) -> st.SearchStrategy[tuple[Step, ...]]:
    """A flow for a campaign of ``kind``: steps that are valid there (R9, R16, R8).

    ``max_steps`` and ``max_choices`` override the design's bounds.

    Request and Execute Campaign steps are drawn three times as often as any other kind:
    the calls between campaigns are what the ordering guarantees are about, and nesting
    three executables deep should not be a rarity.
    """
    _check_kind(kind)
    design = _sized(design, max_steps, max_choices)
    kinds = step_kinds(kind, design, level=level)
    weighted = [*kinds, *(k for k in kinds if k in _CALLS for _ in range(2))]  # the first stays first: shrinking
    return st.lists(
        st.one_of([steps(k, design, level=level) for k in weighted]),
        min_size=min_steps,
        max_size=max(design.max_steps, min_steps),
    ).map(tuple)


_FORM_FILLS = st.builds(Trigger, name=st.just("fills_out_form"))


@functools.cache
def triggers(*, cascades: bool = True) -> st.SearchStrategy[Trigger]:
    """A trigger on an external activity, or (with ``cascades``) on a flow's activity (R1, R17)."""
    external = st.one_of(
        st.builds(
            Trigger,
            name=st.just("fills_out_form"),
            constraints=st.sampled_from(((), (("form", (FORMS[0],)),), (("form", FORMS),))),
        ),
        st.builds(Trigger, name=st.just("clicks_link")),
    )
    if not cascades:
        return external
    fired_by_flows = st.one_of(
        st.builds(
            Trigger,
            name=st.just("data_value_changes"),
            constraints=st.sampled_from(((("field", ("stage",)),), (("field", ("stage",)), ("new_value", ("MQL",))))),
        ),
        st.builds(Trigger, name=st.just("score_is_changed")),
        st.builds(Trigger, name=st.just("added_to_list"), constraints=st.tuples(st.just(("list", (LISTS[1],))))),
        st.builds(Trigger, name=st.just("program_status_is_changed")),
    )
    return external | fired_by_flows


@functools.cache
def qualifications() -> st.SearchStrategy[Qualification]:
    """R18: every time (first, so shrinking lands there), once, or once every 1 min / 1 h."""
    return st.one_of(
        st.just(Qualification(rule="every_time")),
        st.just(Qualification(rule="once")),
        st.builds(Qualification, rule=st.just("once_every"), interval=st.sampled_from((60.0, 3600.0))),
    )


_CALLS = ("request_campaign", "execute_campaign")
_COIN = st.booleans()


def _check_kind(kind: str) -> None:
    if kind not in ("trigger", "batch", "executable"):
        raise ValueError(f'campaign kind {kind!r}: use "trigger", "batch" or "executable"')


@functools.cache
def campaigns(
    name: str,
    kind: CampaignKind = "trigger",
    design: Design = Design(),
    *,
    requestable: bool = False,
    level: int = 0,
    cascades: bool = True,
    max_steps: int | None = None,
    max_choices: int | None = None,
) -> st.SearchStrategy[Campaign]:
    """One campaign of ``kind``, valid for ``design``.

    ``requestable``: a trigger campaign listening to "Campaign is Requested" (R3), from
    flows and the API. ``level``: an executable's nesting level (R8). ``max_steps`` and
    ``max_choices`` override the design's bounds.
    """
    _check_kind(kind)
    design = _sized(design, max_steps, max_choices)
    if requestable and kind != "trigger":
        raise ValueError(f"a requestable campaign is a trigger campaign (R3), not {kind!r}")
    return _campaigns(name, kind, design, requestable=requestable, level=level, cascades=cascades)


@st.composite
def _campaigns(
    draw: st.DrawFn,
    name: str,
    kind: CampaignKind,
    design: Design,
    *,
    requestable: bool,
    level: int,
    cascades: bool,
) -> Campaign:
    filters = tuple(draw(_FILTER_LISTS))
    qualification = draw(qualifications())
    flow = draw(flows(kind, design, level=level))
    program = draw(_PROGRAMS)
    deeper = [n for n, lvl in design.executables if lvl > level]
    if deeper and len(flow) < design.max_steps and draw(_COIN):
        # Half the campaigns call the next deeper executable: an execution, let alone
        # nesting three deep (R8), would otherwise need unlikely draws in a row.
        call = Step(kind="execute_campaign", action=model.ExecuteCampaign(campaign=deeper[0]))
        at = draw(st.integers(0, len(flow)))
        flow = (*flow[:at], call, *flow[at:])
    schedule = draw(_SCHEDULES) if kind == "batch" else None
    found: tuple[Trigger, ...] = ()
    if requestable:
        sources = draw(_SOURCES)
        found = (Trigger(name="campaign_is_requested", constraints=(("source", sources),) if sources else ()),)
    elif kind == "trigger":
        found = tuple(draw(_trigger_lists(cascades)))
    return Campaign(
        name=name,
        kind=kind,
        program=program,
        triggers=found,
        filters=filters,
        qualification=qualification,
        schedule=schedule,
        flow=flow,
    )


# Half the campaigns have no filters: a smart list that never holds hides its flow.
_FILTER_LISTS: st.SearchStrategy[list[Filter]] = st.just([]) | st.lists(_filters(), min_size=1, max_size=2)
_PROGRAMS = st.sampled_from((PROGRAM.name, None))
_SCHEDULES = st.builds(Schedule, at=st.sampled_from(TIMES), every=st.sampled_from((None, 3600.0)))
_SOURCES: st.SearchStrategy[tuple[str, ...]] = st.sampled_from(((), ("marketo_flow_action", "web_service_api")))


@functools.cache
def _trigger_lists(cascades: bool) -> st.SearchStrategy[list[Trigger]]:
    # The first trigger listens to what the load does half the time, so most trigger
    # campaigns do run; more triggers may listen to what flows do (R17).
    first = _FORM_FILLS | triggers(cascades=cascades)
    return st.builds(lambda a, more: [a, *more], first, st.lists(triggers(cascades=cascades), max_size=1))


def _optional(key: str, values: st.SearchStrategy[Value]) -> st.SearchStrategy[dict[str, Value]]:
    return st.just({}) | values.map(lambda value: {key: value})


@functools.cache
def people(id: str = "alice") -> st.SearchStrategy[PersonSpec]:
    """One explicit person: some fields set, in some lists."""
    fields = st.tuples(
        _optional("stage", st.sampled_from(STAGES)),
        _optional("score", st.sampled_from((10, 60))),
        _optional("country", st.sampled_from(("", "DE"))),
    ).map(lambda parts: {k: v for part in parts for k, v in part.items()})
    lists = st.lists(st.sampled_from(LISTS), unique=True, max_size=len(LISTS)).map(tuple)
    return st.builds(PersonSpec, id=st.just(id), fields=fields, lists=lists)


@functools.cache
def _external_activities(ids: Sequence[str], requestable: Sequence[str]) -> st.SearchStrategy[ExternalActivity]:
    at = st.sampled_from(TIMES)
    person = st.sampled_from(ids)
    kinds = [
        st.builds(
            ExternalActivity,
            at=at,
            person=person,
            type=st.just("fill_out_form"),
            attributes=st.sampled_from(FORMS).map(lambda form: {"form": form}),
            fields=st.sampled_from(({}, {"stage": "Known"}, {"stage": "MQL"})),
        ),
        st.builds(ExternalActivity, at=at, person=person, type=st.just("click_link"), attributes=st.just({})),
        st.builds(
            ExternalActivity,
            at=at,
            person=person,
            type=st.just("change_data_value"),
            attributes=st.sampled_from(STAGES).map(lambda stage: {"field": "stage", "value": stage}),
        ),
    ]
    if requestable:
        kinds.append(
            st.builds(
                ExternalActivity,
                at=at,
                person=person,
                type=st.just("request_campaign"),
                attributes=st.sampled_from(requestable).map(
                    lambda name: {"campaign": name, "source": "web_service_api"}
                ),
            )
        )
    return st.one_of([kinds[0], *kinds])  # form fills twice as often: most triggers listen to them


def _ref(kind: str, index: int) -> str:
    """A placeholder for "the index-th campaign of kind", resolved once all are drawn."""
    return f"\x00{kind} {index}"


@attrs.frozen(kw_only=True)
class _Names:
    """The real campaign names, by kind, for resolving placeholders."""

    requested: tuple[str, ...]
    executables: tuple[str, ...]  # level of the i-th (0-based): min(i + 1, max_depth)
    every: tuple[str, ...]
    max_depth: int
    max_requests: int  # Request Campaign steps per flow: the request fan-out

    def level(self, name: str) -> int:
        return min(self.executables.index(name) + 1, self.max_depth) if name in self.executables else 0

    @overload
    def resolve(self, action: Action, level: int) -> Action: ...
    @overload
    def resolve(self, action: None, level: int) -> None: ...
    def resolve(self, action: Action | None, level: int) -> Action | None:
        """``action`` with real names, or raise LookupError when nothing fits it."""
        if isinstance(action, model.RequestCampaign):
            return attrs.evolve(action, campaign=_pick(self.requested, action.campaign))
        if isinstance(action, model.ExecuteCampaign):
            deeper = tuple(n for n in self.executables if self.level(n) > level)  # R8: no cycle, <= 3
            return attrs.evolve(action, campaign=_pick(deeper, action.campaign))
        if isinstance(action, model.RemoveFromFlow):
            return attrs.evolve(action, campaigns=tuple(_pick(self.every, c) for c in action.campaigns))
        return action

    def resolve_flow(self, campaign: Campaign) -> Campaign:
        """Steps with real names; a step whose target no longer exists is left out."""
        level = self.level(campaign.name)
        flow = []
        requests = 0
        for step in campaign.flow:
            if step.kind == "request_campaign":
                requests += 1
                if requests > self.max_requests:
                    continue
            try:
                action = self.resolve(step.action, level)
                choices = tuple(attrs.evolve(c, action=self.resolve(c.action, level)) for c in step.choices)
            except LookupError:
                continue
            flow.append(attrs.evolve(step, action=action, choices=choices))
        return attrs.evolve(campaign, flow=tuple(flow))


def _pick(names: Sequence[str], placeholder: str) -> str:
    if not names:
        raise LookupError(placeholder)
    return names[int(placeholder.rsplit(" ", 1)[1]) % len(names)]


def _check_range(bounds: Range, what: str) -> None:
    low, high = bounds
    if not 0 <= low <= high:
        raise ValueError(f"{what}={bounds!r}: give (min, max) with 0 <= min <= max")


@attrs.frozen(kw_only=True)
class _Options:
    """The options of `scenarios`, hashable so that its strategy is built once."""

    counts: tuple[tuple[str, Range], ...]
    design: Design
    max_depth: int
    max_requests: int
    max_people: int
    max_activities: int
    cascades: bool
    queue: bool


def scenarios(
    *,
    trigger_campaigns: Range = (1, 2),
    requested_campaigns: Range = (0, 2),
    executable_campaigns: Range = (0, 3),
    batch_campaigns: Range = (0, 1),
    max_steps: int = 4,
    max_choices: int = 2,
    max_depth: int = 3,
    max_requests: int = 2,
    max_people: int = 3,
    max_activities: int = 4,
    waits: bool = True,
    webhooks: bool = True,
    removals: bool = True,
    cascades: bool = True,
    queue: bool = False,
) -> st.SearchStrategy[Scenario]:
    """A whole valid scenario: campaigns of each kind, people, timed activities.

    Counts of campaigns per kind are (min, max) ranges. ``max_depth`` (1-3) bounds
    executable nesting (R8), ``max_requests`` the Request Campaign steps of one flow
    (its fan-out, R5); ``cascades`` lets trigger campaigns listen to what flows
    do (R17); ``waits``, ``webhooks`` and ``removals`` allow those steps. Activities come
    at a few shared times, so runs become due together and the schedule matters.
    ``queue`` gives every scenario a campaign queue (`queues`) and some trigger
    campaigns a priority override (R21): the orders a design guarantees under load.
    """
    counts = (
        ("trigger", trigger_campaigns),
        ("requested", requested_campaigns),
        ("executable", executable_campaigns),
        ("batch", batch_campaigns),
    )
    for kind, bounds in counts:
        _check_range(bounds, f"{kind}_campaigns")
    if not 1 <= max_depth <= 3:
        raise ValueError(f"max_depth={max_depth!r}: executables nest 1 to 3 levels deep (R8)")
    if not 1 <= max_people <= len(PERSON_IDS):
        raise ValueError(f"max_people={max_people!r}: give 1 to {len(PERSON_IDS)}")
    for name, value in (
        ("max_steps", max_steps),
        ("max_choices", max_choices),
        ("max_requests", max_requests),
        ("max_activities", max_activities),
    ):
        if value < 0:
            raise ValueError(f"{name}={value!r}: give 0 or more")
    # Campaigns are drawn with placeholder targets, resolved once all are drawn.
    design = Design(
        requestable=tuple(_ref("requested", i) for i in range(requested_campaigns[1])),
        executables=tuple((_ref("executable", i), 4) for i in range(executable_campaigns[1])),
        campaigns=tuple(_ref("any", i) for i in range(sum(high for _, (_, high) in counts))),
        waits=waits,
        webhooks=webhooks,
        removals=removals,
        max_steps=max_steps,
        max_choices=max_choices,
    )
    options = _Options(
        counts=counts,
        design=design,
        max_depth=max_depth,
        max_requests=max_requests,
        max_people=max_people,
        max_activities=max_activities,
        cascades=cascades,
        queue=queue,
    )
    return _scenarios(options)


@functools.cache
def _campaign_lists(kind: str, bounds: Range, design: Design, cascades: bool) -> st.SearchStrategy[list[Campaign]]:
    one = campaigns(
        _ref(kind, 0),
        "trigger" if kind == "requested" else kind,
        design,
        requestable=kind == "requested",
        cascades=cascades,
    )
    return st.lists(one, min_size=bounds[0], max_size=bounds[1])


@functools.cache
def _people_lists(max_people: int) -> st.SearchStrategy[list[PersonSpec]]:
    return st.lists(
        st.sampled_from(PERSON_IDS[:max_people]).flatmap(people),
        min_size=1,
        max_size=max_people,
        unique_by=lambda p: p.id,
    )


@functools.cache
def _activity_lists(
    ids: tuple[str, ...], requestable: tuple[str, ...], max_size: int
) -> st.SearchStrategy[list[ExternalActivity]]:
    # At least one: with none, no trigger campaign would ever fire.
    return st.lists(_external_activities(ids, requestable), min_size=min(1, max_size), max_size=max_size)


_SEEDS = st.integers(0, 2**16)
_DURATIONS = st.sampled_from((7200.0, 86400.0))
_BUDGETS = st.sampled_from((100, 100, 100, 5))  # a small budget one time in four


@functools.cache
def _scenarios(options: _Options) -> st.SearchStrategy[Scenario]:
    return _draw_scenario(options)


@st.composite
def _draw_scenario(draw: st.DrawFn, options: _Options) -> Scenario:
    # Each campaign is one list element: shrinking deletes any campaign cleanly, and the
    # steps that called it go with it when the placeholders are resolved.
    drawn: dict[str, list[Campaign]] = {}
    for kind, bounds in options.counts:
        found = draw(_campaign_lists(kind, bounds, options.design, options.cascades))
        drawn[kind] = [attrs.evolve(c, name=_NAMES[kind].format(i)) for i, c in enumerate(found, 1)]
    everything = [c for group in drawn.values() for c in group]
    names = _Names(
        requested=tuple(c.name for c in drawn["requested"]),
        executables=tuple(c.name for c in drawn["executable"]),
        every=tuple(c.name for c in everything),
        max_depth=options.max_depth,
        max_requests=options.max_requests,
    )
    explicit = tuple(draw(_people_lists(options.max_people)))
    ids = tuple(person.id for person in explicit)
    activities = draw(_activity_lists(ids, names.requested, options.max_activities))
    activities.sort(key=lambda a: a.at)  # the loader's order: by time, ties in file order
    queue = None
    if options.queue:
        queue = draw(queues())
        everything = [draw(_overrides(c)) if c.kind == "trigger" else c for c in everything]
    return Scenario(
        source="<generated>",
        seed=draw(_SEEDS),
        duration=draw(_DURATIONS),
        step_budget=draw(_BUDGETS),
        fields=dict(FIELDS),
        lists=LISTS,
        programs={PROGRAM.name: PROGRAM},
        campaigns={c.name: names.resolve_flow(c) for c in everything},
        people=explicit,
        activities=tuple(activities),
        queue=queue,
    )


#: Service times to draw from: none, short and long constants (a long one builds a
#: backlog: 90 s against activities a minute apart), and each distribution.
_SERVICE_TIMES = st.sampled_from(
    (
        ServiceTime(),
        ServiceTime(mean=0.001),
        ServiceTime(mean=1.0),
        ServiceTime(mean=90.0),
        ServiceTime(distribution="exponential", mean=5.0),
        ServiceTime(distribution="lognormal", mean=2.0, sd=3.0),
        ServiceTime(distribution="empirical", mean=20.5, values=(1.0, 40.0)),
    )
)


def service_times() -> st.SearchStrategy[ServiceTime]:
    """How long a step holds its worker (R22): none, constants short and long, and one
    of each distribution. Shrinks towards none."""
    return _SERVICE_TIMES


def queues(*, max_workers: int = 3) -> st.SearchStrategy[Queue]:
    """A campaign queue (R20, R22): 1 to ``max_workers`` workers per queue (one, half the
    time: more backlog), one service time for every step kind and up to three kinds with
    their own. Shrinks towards one worker and steps that take no time."""
    if max_workers < 1:
        raise ValueError(f"max_workers={max_workers!r}: a queue needs at least 1 worker")
    return _queues(max_workers)


@functools.cache
def _queues(max_workers: int) -> st.SearchStrategy[Queue]:
    counts = st.one_of(st.just(1), st.integers(1, max_workers))
    own = st.dictionaries(st.sampled_from(sorted(model.STEP_KINDS)), _SERVICE_TIMES, max_size=3)
    return st.builds(_queue, workers=counts, batch_workers=counts, base=_SERVICE_TIMES, own=own)


def _queue(*, workers: int, batch_workers: int, base: ServiceTime, own: Mapping[str, ServiceTime]) -> Queue:
    return Queue(workers=workers, batch_workers=batch_workers, service={**dict.fromkeys(model.STEP_KINDS, base), **own})


@st.composite
def _overrides(draw: st.DrawFn, campaign: Campaign) -> Campaign:
    """``campaign``, now and then with an admin's priority override (R21)."""
    priority = draw(st.one_of(st.none(), st.sampled_from(model.PRIORITIES)))
    if priority is None:
        return campaign
    return attrs.evolve(campaign, priority=priority, priority_from=draw(st.sampled_from((0.0, *TIMES[1:3]))))


def seeds() -> st.SearchStrategy[int]:
    """Run seeds: they pick the schedule among runs due at the same instant."""
    return st.integers(0, 2**32 - 1)


# -- fuzzing: inputs a fuzzer would try on a scenario file ----------------------------

#: What `mutated_files` puts in place of a number: zero, a negative, the largest float,
#: an integer no float holds (TOML allows it), and the three floats that are no numbers.
EXTREME_NUMBERS = ("0", "-1", "1e308", "1" + "0" * 309, "nan", "inf", "-inf")
#: A duration no run could simulate (2,738 years).
HUGE_DURATION = '"999999d"'

#: A number as written in TOML, or the digits inside a duration, rate or score change
#: ("2h", "20000/h", "+10").
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])|(?<=[\"+=/ -])\d+(?:\.\d+)?(?=[a-z/ ])")
#: A duration string ("2h", "30 minutes", "1h30m").
_DURATION = re.compile(r'"\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w|mo|seconds?|minutes?|hours?|days?|weeks?)[^"]*"')


def number_spans(text: str) -> list[tuple[int, int]]:
    """Where the numbers of a scenario (or CSV) text are, comments left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for line in text.splitlines(keepends=True):
        cut = line.find("#")
        end = start + (cut if cut >= 0 else len(line))
        spans.extend(match.span() for match in _NUMBER.finditer(text, start, end))
        start += len(line)
    return spans


def duration_spans(text: str) -> list[tuple[int, int]]:
    """Where the duration strings of a scenario text are ("2h", with the quotes)."""
    return [match.span() for match in _DURATION.finditer(text)]


def mutated_files(text: str) -> st.SearchStrategy[bytes]:
    """A scenario file as a fuzzer would mangle it: one number replaced by an extreme
    (`EXTREME_NUMBERS`), one duration made huge, or a few bytes flipped, inserted or
    deleted. For a property that ``sim check`` either accepts a file (and ``sim run`` then
    runs it) or says what is wrong, never with a traceback. Shrinks towards the first
    number and the first extreme."""
    numbers = number_spans(text)
    durations = duration_spans(text)
    options: list[st.SearchStrategy[bytes]] = []
    if numbers:
        options.append(
            st.builds(
                lambda span, extreme: (text[: span[0]] + extreme + text[span[1] :]).encode(),
                st.sampled_from(numbers),
                st.sampled_from(EXTREME_NUMBERS),
            )
        )
    if durations:
        options.append(
            st.sampled_from(durations).map(lambda span: (text[: span[0]] + HUGE_DURATION + text[span[1] :]).encode())
        )
    options.append(_flipped(text.encode()))
    return st.one_of(options)


@st.composite
def _flipped(draw: st.DrawFn, data: bytes) -> bytes:
    mangled = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not mangled:
            break
        at = draw(st.integers(0, len(mangled) - 1))
        how = draw(st.sampled_from(("replace", "insert", "delete")))
        if how == "replace":
            mangled[at] = draw(st.integers(0, 255))
        elif how == "insert":
            mangled.insert(at, draw(st.sampled_from(b'0123456789"[]{}=.,-+#\n\x00\xff')))
        else:
            del mangled[at]
    return bytes(mangled)

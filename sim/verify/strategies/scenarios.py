"""`scenarios()`: whole valid designs, with their people, load and queue; and `seeds()`."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import overload

import attrs
from hypothesis import strategies as st

from sim.scenario import model
from sim.scenario.model import (
    Action,
    Campaign,
    ExternalActivity,
    PersonSpec,
    Queue,
    Scenario,
    ServiceTime,
)
from sim.verify.strategies.campaigns import _external_activities, campaigns, people
from sim.verify.strategies.vocabulary import _NAMES, FIELDS, LISTS, PERSON_IDS, PROGRAM, TIMES, Design, Range


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

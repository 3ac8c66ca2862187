"""Strategies for triggers, qualification rules, campaigns, people and timed activities."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from hypothesis import strategies as st

from sim.scenario import model
from sim.scenario.model import (
    Campaign,
    CampaignKind,
    ExternalActivity,
    Filter,
    PersonSpec,
    Qualification,
    Schedule,
    Step,
    Trigger,
    Value,
)
from sim.verify.strategies.flows import _filters, flows
from sim.verify.strategies.vocabulary import FORMS, LISTS, PROGRAM, STAGES, TIMES, Design, _check_kind, _sized

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


_COIN = st.booleans()


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

"""Strategies for smart-list filters, step actions, steps and flows."""

from __future__ import annotations

import functools

import attrs
from hypothesis import strategies as st

from sim.scenario import model
from sim.scenario.model import (
    Action,
    CampaignKind,
    Choice,
    FieldFilter,
    Filter,
    ListFilter,
    ProgramStatusFilter,
    Step,
)
from sim.verify.strategies.vocabulary import _CALLS, LISTS, PROGRAM, SIMPLE_KINDS, STAGES, Design, _check_kind, _sized

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

"""The vocabulary every generated design shares, and a design's size limits (`Design`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from sim.scenario.model import (
    FieldSpec,
    Program,
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


#: The step kinds that call another campaign.
_CALLS = ("request_campaign", "execute_campaign")


def _check_kind(kind: str) -> None:
    if kind not in ("trigger", "batch", "executable"):
        raise ValueError(f'campaign kind {kind!r}: use "trigger", "batch" or "executable"')

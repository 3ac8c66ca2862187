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

from sim.verify.strategies.campaigns import campaigns, people, qualifications, triggers
from sim.verify.strategies.flows import flows, step_kinds, steps
from sim.verify.strategies.mutations import EXTREME_NUMBERS, HUGE_DURATION, duration_spans, mutated_files, number_spans
from sim.verify.strategies.racing import racing_scenarios
from sim.verify.strategies.scenarios import queues, scenarios, seeds, service_times
from sim.verify.strategies.vocabulary import (
    FIELDS,
    FORMS,
    LISTS,
    PERSON_IDS,
    PROGRAM,
    SIMPLE_KINDS,
    STAGES,
    TIMES,
    Design,
    Range,
)

__all__ = [
    "EXTREME_NUMBERS",
    "FIELDS",
    "FORMS",
    "HUGE_DURATION",
    "LISTS",
    "PERSON_IDS",
    "PROGRAM",
    "SIMPLE_KINDS",
    "STAGES",
    "TIMES",
    "Design",
    "Range",
    "campaigns",
    "duration_spans",
    "flows",
    "mutated_files",
    "number_spans",
    "people",
    "qualifications",
    "queues",
    "racing_scenarios",
    "scenarios",
    "seeds",
    "service_times",
    "step_kinds",
    "steps",
    "triggers",
]

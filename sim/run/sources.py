"""The load of a run: timed activities, ``[[load]]`` generators and batch schedules.

Each source is a chain of kernel calls (`Kernel.call_soon`, `Kernel.then_at`) that acts
as one task would: no trio task and no hand-off per arrival, the same choice points. A
new load model is a source here, started by `Load.start`, with its draws from a random
stream of its own (so what arrives does not depend on the schedule).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from sim.run.arrivals import arrival_times, external_activities, new_arrivals, schedule_times
from sim.run.conditions import all_hold
from sim.run.steps import set_field
from sim.scenario import model
from sim.scenario.model import Campaign, Value
from sim.scenario.people import Person, new_person_fields

if TYPE_CHECKING:
    from sim.run.engine import Engine


@attrs.define(eq=False)
class Load:
    """Every source of one run's load, and the people they may bring."""

    engine: Engine
    #: Everyone known so far, in the order they became known (the people, then those
    #: created by form fills): who a generator's arrival may be.
    everyone: list[Person] = attrs.field(init=False)
    #: Numbers of the people new_people creates: new1, new2, ...
    new_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    def __attrs_post_init__(self) -> None:
        self.everyone = list(self.engine.people.values())

    def start(self) -> None:
        """Make every source and let each first act at its first time."""
        engine = self.engine
        scenario, kernel, plan = engine.scenario, engine.kernel, engine.plan
        timed = iter(plan.timed) if plan is not None else external_activities(scenario)
        first_timed = next(timed, None)
        if first_timed is not None:
            # Due at the first activity, not at 0: a source due at 0 would be one more
            # candidate at every choice point there, and adding a late activity would
            # reshuffle the schedule before it.
            source = TimedActivities(self, itertools.chain([first_timed], timed))
            kernel.call_soon(source.next_item, delay=first_timed.at)
        for index, generator in enumerate(scenario.generators):
            if plan is not None:
                times = iter(plan.arrivals[index])
            else:
                times = arrival_times(generator, seed=scenario.seed, index=index, end=scenario.duration)
            first = next(times, None)
            if first is not None and (engine.people or generator.new_people >= 1):
                # Due at its first arrival: a source due earlier would be one more
                # candidate at every choice point before it.
                arrivals = Arrivals(self, index, generator, itertools.chain([first], times))
                kernel.call_soon(arrivals.next_arrival, delay=first)
        for campaign in scenario.campaigns.values():
            if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
                times = schedule_times(campaign.schedule, scenario.duration)
                first = next(times, None)
                if first is not None:
                    kernel.call_soon(BatchSchedule(engine, campaign, times).run, first, delay=first)

    def inject(self, person: Person, type_: str, attributes: Mapping[str, Value], fields: Mapping[str, Value]) -> None:
        """An activity from outside the flows: a form fill writes its fields first."""
        engine = self.engine
        observer = engine.observer
        for field, value in fields.items():
            observer.field_written(person, field, value, source="form", activity=type_)
            set_field(engine, person, None, None, field, value, source="form")
        if type_ == "change_data_value":
            field, value = str(attributes["field"]), attributes["value"]
            observer.field_written(person, field, value, source="external", activity=type_)
            set_field(engine, person, None, None, field, value, source="external")
            return
        engine.emit(type_, person, None, None, **attributes)

    def create_person(self, pid: str, via: str, rng: random.Random) -> Person:
        """A form fill by an unknown visitor creates a lead (docs/marketo.md): log
        ``person_created`` with the new person's fields, so a replay of the log needs no
        random draws, before the form writes its own fields."""
        engine = self.engine
        person = Person(id=pid, fields=new_person_fields(engine.scenario, rng))
        engine.people[pid] = person
        self.everyone.append(person)
        engine.observer.person_created(person, via)
        engine.emit("person_created", person, None, None, via=via, fields=dict(person.fields))
        return person


@attrs.define(eq=False)
class TimedActivities:
    """The timed activities ([[activities]] and CSV rows, merged by time)."""

    load: Load
    items: Iterator[model.ExternalActivity]
    #: The drawn fields of people these activities create: a stream of its own.
    rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        engine = self.load.engine
        self.rng = random.Random(f"sim.people.created:{engine.scenario.seed}")
        engine.observer.load_source(self, "the timed activities")

    def next_item(self) -> None:
        item = next(self.items, None)
        if item is not None:
            # Even at the same instant: a choice point before each activity.
            self.load.engine.kernel.then_at(item.at, self._inject, item)

    def _inject(self, item: model.ExternalActivity) -> None:
        load = self.load
        engine = load.engine
        engine.observer.source_acts(self)
        person = engine.people.get(item.person)
        if person is None:  # only a form fill may name an unknown person (checked on load)
            person = load.create_person(item.person, item.type, self.rng)
        load.inject(person, item.type, item.attributes, item.fields)
        self.next_item()


@attrs.define(eq=False)
class Arrivals:
    """One ``[[load]]`` generator's arrivals.

    A stream of its own per generator for who arrives and what they write: it does not
    depend on the schedule (the times come from sim.run.arrivals, a stream of their own; so do
    which arrivals are new people, whose fields come from a third stream).
    """

    load: Load
    index: int
    generator: model.Generator
    times: Iterator[float]
    rng: random.Random = attrs.field(init=False)
    new: Iterator[bool] = attrs.field(init=False)
    new_fields: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        engine, index, generator = self.load.engine, self.index, self.generator
        seed = engine.scenario.seed
        self.rng = random.Random(f"sim.generator:{seed}:{index}")
        self.new = new_arrivals(generator, seed=seed, index=index)
        self.new_fields = random.Random(f"sim.people.new:{seed}:{index}")
        engine.observer.load_source(self, f"load {index + 1} ({generator.type})")

    def next_arrival(self) -> None:
        due = next(self.times, None)
        if due is not None:
            self.load.engine.kernel.then_at(due, self._arrive)

    def _arrive(self) -> None:
        load = self.load
        load.engine.observer.source_acts(self)
        generator = self.generator
        rng = self.rng
        fields = {name: rng.choice(values) for name, values in generator.fields.items()}
        if next(self.new):
            person = load.create_person(f"new{next(load.new_ids)}", generator.type, self.new_fields)
        else:
            # Everyone known at the moment of the arrival, created people included.
            person = rng.choice(load.everyone)
        load.inject(person, generator.type, generator.attributes, fields)
        self.next_arrival()


@attrs.define(eq=False)
class BatchSchedule:
    """A batch campaign's schedule: at each time, everyone who qualifies runs (R2)."""

    engine: Engine
    campaign: Campaign
    times: Iterator[float]

    def __attrs_post_init__(self) -> None:
        self.engine.observer.load_source(self, f'the schedule of batch "{self.campaign.name}"')

    def run(self, due: float) -> None:
        engine = self.engine
        kernel = engine.kernel
        while True:
            engine.observer.source_acts(self)
            if not self.admit_everyone():
                return
            due = next(self.times, math.inf)
            if due == math.inf:
                return
            if due > kernel.now:  # a time already due runs now, with no choice point
                kernel.then_at(due, self.run, due)
                return

    def admit_everyone(self) -> bool:
        """R2: everyone who qualifies now runs through the campaign's flow. False when a
        stop request cut it short (Ctrl-C: not the rest of a million-person batch first)."""
        engine, campaign = self.engine, self.campaign
        observer = engine.observer
        observer.batch_passes(campaign, self)
        tokens = engine.my_tokens(campaign)
        programs = engine.scenario.programs
        kernel = engine.kernel
        for person in engine.people.values():
            if kernel.stop_requested:
                return False
            observer.batch_reads(campaign, person)
            if all_hold(campaign.filters, person, programs):
                engine.admission.admit(campaign, person, parent_id=None, cause=None, via="batch", tokens=tokens)
        return True

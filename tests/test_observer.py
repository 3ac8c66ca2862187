"""The observer interface (sim.run.observer): which hooks the engine calls, in what order,
for a small design; several observers each told everything; and watching changes nothing
(the log is the same with or without observers)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from hypothesis import given

from sim import MemorySink, Observer, Simulation, parse_scenario
from sim.run.engine import Engine
from sim.run.observer import ObserverGroup, SmartList, WriteSource, observer_of
from sim.run.queue import QueueWatch
from sim.run.runs import At, Run, WebhookCall
from sim.scenario.model import Action, Campaign, Filter, Scenario, Step, Value
from sim.scenario.people import Person
from sim.testing import scenarios, seeds


@attrs.define(eq=False)
class Recorder(Observer):
    """Writes down every hook call, briefly."""

    calls: list[str] = attrs.field(factory=list)

    def attach(self, engine: Engine) -> None:
        self.calls.append(f"attach {len(engine.people)} people")

    def watch_queue(self, name: str, workers: int, end: float) -> QueueWatch:
        self.calls.append(f"watch_queue {name} {workers}")
        return QueueWatch()

    def run_ended(self, run: Run, priority: str, latency: float) -> None:
        self.calls.append(f"run_ended {run.id} {priority} {latency:g}")

    def admitted(self, run: Run, via: str, cause: int | None) -> None:
        self.calls.append(f"admitted {run.id} {run.campaign.name} via {via} cause {cause}")

    def goes_on(self, run: Run) -> None:
        self.calls.append(f"goes_on {run.id} at step {run.step}")

    def load_source(self, source: object, name: str) -> None:
        self.calls.append(f"load_source {name}")

    def source_acts(self, source: object) -> None:
        self.calls.append(f"source_acts {type(source).__name__}")

    def webhook_called(self, call: WebhookCall) -> None:
        self.calls.append(f"webhook_called {call.run.id} {call.action.webhook}")

    def webhook_landed(self, call: WebhookCall) -> None:
        self.calls.append(f"webhook_landed {call.run.id}")

    def smart_list(
        self, person: Person, filters: Sequence[Filter], *, campaign: Campaign, of: SmartList, at: At = None
    ) -> None:
        self.calls.append(f"smart_list {person.id} {campaign.name} {of} {at} ({len(filters)} filters)")

    def qualification(self, campaign: Campaign, person: Person) -> None:
        self.calls.append(f"qualification {campaign.name} {person.id}")

    def step_action(self, run: Run, index: int, step: Step, action: Action) -> None:
        self.calls.append(f"step_action {run.id} step {index} {type(action).__name__}")

    def field_written(
        self,
        person: Person,
        field: str,
        value: Value,
        *,
        source: WriteSource,
        activity: str,
        call: WebhookCall | None = None,
    ) -> None:
        self.calls.append(f"field_written {person.id} {field}={value!r} from {source} ({activity})")

    def person_created(self, person: Person, via: str) -> None:
        self.calls.append(f"person_created {person.id} via {via}")

    def batch_passes(self, campaign: Campaign, source: object) -> None:
        self.calls.append(f"batch_passes {campaign.name}")

    def batch_reads(self, campaign: Campaign, person: Person) -> None:
        self.calls.append(f"batch_reads {campaign.name} {person.id}")


DESIGN = """
[sim]
duration = "1h"

[fields]
country = ""
score = 0

[[person]]
id = "alice"

[campaigns."Score Lead"]
qualification = "once"
triggers = [{ trigger = "fills_out_form" }]
filters = [{ field = "country", op = "is not empty" }]
flow = [
  { step = "change_score", change = "+5" },
  { step = "call_webhook", webhook = "enrich", latency = "2s", response = { country = "US" } },
]

[[activities]]
at = "0s"
person = "alice"
type = "fill_out_form"
form = "Contact Us"
fields = { country = "usa" }

[[activities]]
at = "10s"
person = "visitor"
type = "fill_out_form"
form = "Contact Us"
"""


def test_the_engine_calls_each_hook_where_the_run_is_at_that_moment() -> None:
    """An exact trace: the fill's field write, the trigger's smart list (R1), the
    qualification rule (R18), the run's thread going on before each step, each step's
    action, the webhook's response as a thread of its own (R16), the run's end, then a
    fill by an unknown visitor that creates a person whose list does not hold."""
    recorder = Recorder()
    simulation = Simulation(parse_scenario(DESIGN, source="<observer>"), measure=False, observers=[recorder])
    simulation.run_sync()
    assert recorder.calls == [
        "attach 1 people",
        "load_source the timed activities",
        "source_acts TimedActivities",
        "field_written alice country='usa' from form (fill_out_form)",
        "smart_list alice Score Lead trigger None (1 filters)",
        "qualification Score Lead alice",
        "admitted 1 Score Lead via fills_out_form cause 2",
        "goes_on 1 at step 0",
        "goes_on 1 at step 1",
        "step_action 1 step 1 ChangeScore",
        "goes_on 1 at step 2",
        "step_action 1 step 2 CallWebhook",
        "webhook_called 1 enrich",
        "webhook_landed 1",
        "field_written alice country='US' from webhook (webhook_response)",
        "goes_on 1 at step 2",
        "run_ended 1 low 2",  # R19: neither step earns a higher class
        "source_acts TimedActivities",
        "person_created visitor via fill_out_form",
        "smart_list visitor Score Lead trigger None (1 filters)",
    ]


def test_a_group_tells_each_observer_everything_in_order() -> None:
    first, second = Recorder(), Recorder()
    simulation = Simulation(parse_scenario(DESIGN, source="<observer>"), observers=[first, second], detect_races=True)
    simulation.run_sync()
    assert first.calls == second.calls
    assert len(first.calls) == 20
    assert simulation.races() == ()  # the built-in observers are told too: the race watch ran
    assert simulation.metrics().campaigns["Score Lead"].completed == 1


def test_one_observer_is_used_as_it_is_and_none_is_a_do_nothing_observer() -> None:
    recorder = Recorder()
    assert observer_of([recorder]) is recorder
    assert type(observer_of([])) is Observer
    group = observer_of([recorder, Recorder()])
    assert isinstance(group, ObserverGroup)


def test_a_group_binds_each_hook_to_what_it_must_call() -> None:
    """Nothing for a hook no observer overrides, the one method for a hook one does."""

    class Ends(Observer):
        def run_ended(self, run: Run, priority: str, latency: float) -> None:
            pass

    recorder, ends = Recorder(), Ends()
    group = ObserverGroup([recorder, ends, Observer()])
    assert group.goes_on == recorder.goes_on  # only the recorder overrides it
    assert group.run_ended != recorder.run_ended  # both do: each in turn
    alone = ObserverGroup([ends, Observer()])
    assert alone.run_ended == ends.run_ended
    assert type(alone).goes_on is Observer.goes_on and "goes_on" not in vars(alone)
    assert type(alone.watch_queue("trigger", 2, 60.0)) is QueueWatch


def test_a_group_given_as_an_observer_and_a_hook_set_on_an_instance_are_both_told() -> None:
    """A group inside a group is flattened; a hook set on the observer object itself
    (not its class) counts as an override."""
    inner, outer = Recorder(), Recorder()
    ended: list[int] = []
    plain = Observer()
    plain.run_ended = lambda run, priority, latency: ended.append(run.id)  # type: ignore[method-assign]
    scenario = parse_scenario(DESIGN, source="<observer>")
    Simulation(scenario, observers=[ObserverGroup([inner, plain]), outer]).run_sync()
    assert inner.calls == outer.calls and len(inner.calls) == 20
    assert ended == [1]


@given(scenarios(), seeds())
def test_watching_a_run_changes_nothing_in_it(scenario: Scenario, seed: int) -> None:
    """The same log with no observer at all, with the built-in ones, and with one more."""
    logs = []
    for options in (
        {"measure": False},
        {"measure": True, "detect_races": True},
        {"measure": True, "observers": [Recorder()]},
    ):
        sink = MemorySink()
        Simulation(scenario, seed=seed, sinks=[sink], **options).run_sync()  # type: ignore[arg-type]
        logs.append(sink.activities)
    assert logs[0] == logs[1] == logs[2]

"""Race detection as an observer: what each step reads and writes, as accesses.

`RaceWatch` is the `Observer` (`sim.run.observer`) that `Simulation(detect_races=True)`
attaches to the engine. It keeps a vector clock per thread (a run and the executables
inside it, a load source, a webhook response) and turns the engine's hooks into reads
and writes of people's state for `RaceDetector` (`sim.observe.races`, docs/races.md):
smart lists and choices read their filters' items, steps write theirs, a trigger
listening for a change makes that write an ``update`` (it commutes with nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from sim.observe.races import Clock, Op, RaceDetector, Site, writable_items
from sim.run.observer import Observer, SmartList, WriteSource
from sim.run.runs import At, Run, Thread, WebhookCall
from sim.run.steps import new_value
from sim.scenario import model
from sim.scenario.model import Campaign, Filter, Scenario, Step, Value, same_value
from sim.scenario.people import Person

if TYPE_CHECKING:
    from sim.run.engine import Engine


@attrs.define(eq=False)
class RaceWatch(Observer):
    """Feeds ``detector`` every access of one run to people's state."""

    detector: RaceDetector = attrs.field(factory=RaceDetector)
    _engine: Engine = attrs.field(init=False)
    #: The clock of the thread running now, set wherever a thread resumes.
    _clock: Clock | None = attrs.field(default=None, init=False)
    #: The clocks of the threads in flight, of the load sources and of webhook responses
    #: not yet landed (by identity: these objects compare by identity).
    _threads: dict[Thread, Clock] = attrs.field(factory=dict, init=False)
    _sources: dict[object, Clock] = attrs.field(factory=dict, init=False)
    _calls: dict[WebhookCall, Clock] = attrs.field(factory=dict, init=False)
    #: Campaigns a Remove from Flow step names: whether a run is in their flow is state
    #: that the removal writes and every step of theirs reads.
    _removable: frozenset[str] = attrs.field(factory=frozenset, init=False)
    #: (activity type, field/list/program) -> whether a trigger listens for it (`_watched`).
    _watch: dict[tuple[str, str], bool] = attrs.field(factory=dict, init=False)
    #: The items each smart list (a tuple of filters) reads.
    _filter_items: dict[int, tuple[str, ...]] = attrs.field(factory=dict, init=False)
    #: Every `Site` made (`_site_at`): a race run checks hundreds of thousands.
    _sites: dict[tuple[str | None, str, int | None, str | None], Site] = attrs.field(factory=dict, init=False)
    #: The people form fills created during the run.
    _created: set[str] = attrs.field(factory=set, init=False)

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        self.detector.running = engine.kernel.running
        self.detector.writable = writable_items(engine.scenario)
        self._removable = removable_campaigns(engine.scenario)

    # -- threads

    def admitted(self, run: Run, via: str, cause: int | None) -> None:
        how = f"triggered by {via}" if via in model.TRIGGER_ACTIVITIES else f"started by {via}"
        label = f'run {run.id} of "{run.campaign.name}"'
        origin = f"{label}, {how}" + (f" (activity #{cause} of the log)" if cause else "")
        self._threads[run.thread] = self.detector.fork(self._acting(), origin, label=label)

    def run_ended(self, run: Run, priority: str, latency: float) -> None:
        self._threads.pop(run.thread, None)  # the thread never acts again

    def goes_on(self, run: Run) -> None:
        """``run``'s thread goes on, where it checks whether a Remove from Flow reached
        it (R11). For each campaign some Remove from Flow names with a run in this thread,
        that check reads whether the run is still in its flow: had the removal come
        first, it would have stopped here."""
        self._resumed(self._threads[run.thread])
        if not self._removable:
            return
        if run.step:
            kind = run.campaign.flow[run.step - 1].kind
            site = self._site_at(run.campaign.name, "goes on in the flow (R11)", run.step, kind)
        else:
            site = self._site_at(run.campaign.name, "a run starts in the flow (R11)")
        for other in self._engine.live.get(run.person.id, ()):
            name = other.campaign.name
            if other.thread is run.thread and name in self._removable:
                self._touch(run.person, f"flow:{name}", "read", site)

    def load_source(self, source: object, name: str) -> None:
        self._sources[source] = self.detector.source(name)

    def source_acts(self, source: object) -> None:
        clock = self._clock = self._sources[source]
        self.detector.resume_source(clock, self._engine.kernel.now)

    def webhook_called(self, call: WebhookCall) -> None:
        run, at = call.run, call.at
        label = f"the webhook response to run {run.id}"
        origin = f'{label} (its "{run.campaign.name}" step {at[0] if at else "?"}, call_webhook)'
        self._calls[call] = self.detector.fork(self._acting(), origin, label=label)

    def webhook_landed(self, call: WebhookCall) -> None:
        self._resumed(self._calls.pop(call))  # a thread of its own

    # -- reads and writes

    def smart_list(
        self, person: Person, filters: Sequence[Filter], *, campaign: Campaign, of: SmartList, at: At = None
    ) -> None:
        step, kind = at if at is not None else (None, None)
        self._read_filters(filters, person, self._site_at(campaign.name, _READS[of], step, kind))

    def qualification(self, campaign: Campaign, person: Person) -> None:
        # Which of two runs gets in first decides which is turned away.
        rule = campaign.qualification.rule
        site = self._site_at(campaign.name, f"qualification rule (R18: {rule.replace('_', ' ')})")
        self._touch(person, f"qualification:{campaign.name}", "update", site)

    def step_action(self, run: Run, index: int, step: Step, action: model.Action) -> None:
        """The reads and writes of ``action``'s own effect (its choice was read already)."""
        person = run.person
        name = run.campaign.name

        def site(what: str) -> Site:
            return self._site_at(name, what, index, step.kind)

        if isinstance(action, model.ChangeDataValue):
            self._read_tokens(action.value, person, site("token"))
            self._write_field(person, action.field, site("write"), new_value(self._engine, action, run))
        elif isinstance(action, model.ChangeScore):
            watched = self._watched("change_score", "field", action.field)
            if action.op == "=":
                amount = int(action.amount) if float(action.amount).is_integer() else action.amount
                self._touch(person, action.field, "update" if watched else "write", site("score write"), amount)
            else:
                what = f"score {action.op}{action.amount:g}"
                self._touch(person, action.field, "update" if watched else "add", site(what))
        elif isinstance(action, model.ChangeProgramStatus):
            op: Op = "update" if self._watched("change_program_status", "program", action.program) else "raise"
            self._touch(person, f"program:{action.program}", op, site("status change (R14)"), action.status)
        elif isinstance(action, model.AddToList):
            op = "update" if self._watched("add_to_list", "list", action.list) else "write"
            self._touch(person, f"list:{action.list}", op, site("add to list"), True)
        elif isinstance(action, model.RemoveFromList):  # no trigger listens for a removal
            self._touch(person, f"list:{action.list}", "write", site("remove from list"), False)
        elif isinstance(action, model.InterestingMoment):
            self._read_tokens(action.description, person, site("token"))
        elif isinstance(action, model.CallWebhook):
            self._read_tokens(action.payload, person, site("payload token"))
        elif isinstance(action, model.RemoveFromFlow):
            for target in action.campaigns:
                self._touch(person, f"flow:{target}", "write", site("remove from flow (R11)"), "removed")

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
        if call is not None:
            where = call.at[0] if call.at else None
            site = self._site_at(call.run.campaign.name, "response mapping (R16)", where, "call_webhook")
        elif source == "form":
            site = self._site_at(None, f"{activity} (form field)")
        else:
            site = self._site_at(None, f"{activity} (external)")
        self._write_field(person, field, site, value)

    def person_created(self, person: Person, via: str) -> None:
        self._created.add(person.id)
        site = self._site_at(None, f"{via} creates the person")
        self.detector.created(self._acting(), person.id, site, time=self._engine.kernel.now)

    def batch_passes(self, campaign: Campaign, source: object) -> None:
        self.detector.passed(self._sources[source], self._site_at(campaign.name, "smart list (R2)"))

    def batch_reads(self, campaign: Campaign, person: Person) -> None:
        site = self._site_at(campaign.name, "smart list (R2)")
        if person.id in self._created:  # it might not have existed yet
            self._touch(person, "person", "read", site)
        self._read_filters(campaign.filters, person, site)

    # -- helpers

    def _resumed(self, clock: Clock) -> None:
        """The thread of ``clock`` runs again, after a point where others could go
        first: its accesses are its clock's from here, in a new epoch if it forked."""
        self._clock = clock
        clock.resume()

    def _acting(self) -> Clock:
        clock = self._clock
        assert clock is not None, "an access outside any thread"
        return clock

    def _touch(self, person: Person, item: str, op: Op, site: Site, value: Value = None) -> None:
        self.detector.access(self._acting(), person.id, item, op, site, time=self._engine.kernel.now, value=value)

    def _read_filters(self, filters: Sequence[Filter], person: Person, site: Site) -> None:
        clock = self._acting()
        # The items a smart list reads, worked out once per list. By id: the lists belong
        # to the scenario, which outlives the run, and hashing their filters costs more.
        items = self._filter_items.get(id(filters))
        if items is None:
            items = self._filter_items[id(filters)] = tuple(_item_of(flt) for flt in filters)
        access, now, pid = self.detector.access, self._engine.kernel.now, person.id
        for item in items:
            access(clock, pid, item, "read", site, time=now)

    def _read_tokens(self, text: Value, person: Person, site: Site) -> None:
        if not isinstance(text, str) or "{{" not in text:
            return
        for match in model.TOKEN.finditer(text):
            if match.group(1) == "lead":
                where = self._site_at(site.campaign, match.group(0), site.step, site.kind)
                self._touch(person, match.group(2), "read", where)

    def _site_at(self, campaign: str | None, what: str, step: int | None = None, kind: str | None = None) -> Site:
        """The `Site` of an access, made once."""
        key = (campaign, what, step, kind)
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = Site(campaign=campaign, step=step, kind=kind, what=what)
        return site

    def _write_field(self, person: Person, field: str, site: Site, value: Value) -> None:
        """A write of ``value`` to ``field``, which commutes with a write of the same value
        unless a trigger listens for the field's change: then the write that changes the
        value starts the triggered run, and which one does depends on their order."""
        watched = self._watched("change_data_value", "field", field)
        self._touch(person, field, "update" if watched else "write", site, value)

    def _watched(self, activity: str, key: str, name: str) -> bool:
        """Whether an active trigger listens for ``activity`` about ``name`` (its ``key``
        constraint left out, or naming it)."""
        cached = self._watch.get((activity, name))
        if cached is None:
            cached = False
            for _, trigger in self._engine.listeners.get(activity, ()):
                values = dict(trigger.constraints).get(key)
                if values is None or any(same_value(name, value) for value in values):
                    cached = True
                    break
            self._watch[activity, name] = cached
        return cached


#: How a race report names the smart list a read came from (`Observer.smart_list`).
_READS: dict[str, str] = {"trigger": "smart list (R1)", "choice": "choice (R13)", "executable": "smart list (R7)"}


def _item_of(flt: Filter) -> str:
    """The item of a person's state a filter reads, named as `sim.verify.explore` names it."""
    if isinstance(flt, model.FieldFilter):
        return flt.field
    if isinstance(flt, model.ListFilter):
        return f"list:{flt.list}"
    return f"program:{flt.program}"


def removable_campaigns(scenario: Scenario) -> frozenset[str]:
    """The campaigns some Remove from Flow step names (R11): whether a person's run of one is
    in its flow is state that the removal writes."""
    return frozenset(
        name
        for campaign in scenario.campaigns.values()
        for step in campaign.flow
        for action in step.actions()
        if isinstance(action, model.RemoveFromFlow)
        for name in action.campaigns
    )

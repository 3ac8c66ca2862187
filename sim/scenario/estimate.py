"""What a scenario will cost before it runs: memory for its people, and the work it asks.

`sim check` and `sim run` use these so that a user learns before waiting: a population that
cannot fit in this machine's memory is refused with how much it would need
(`memory_problem`), and a run that cannot finish in reasonable time is announced with an
estimate of its activities (`work_warning`).

Both are estimates, built from measurements of this engine, and err on the high side:
- memory: a person's own record is measured by making a sample of people with the fields the
  scenario declares; on top of it each person costs `PER_PERSON` bytes of bookkeeping and,
  when a batch campaign runs everyone at once, `BATCH_RUN` bytes for that run (`PARKED_RUN`
  if the run can stay in flight: a Wait, a webhook or a campaign queue). Measured on the
  default scenario's fields: 0.75 KB a person without a batch, 3.2 KB with one, 5.8 KB
  when its runs wait.
- work: the load's activities (rates over their window, CSV rows, timed activities), the
  batch passes and their members, and what each activity sets off: the runs of the trigger
  campaigns listening for it, their steps, and the activities those steps log in turn. A
  cycle of campaigns triggering each other is bounded only by the step budget.
"""

from __future__ import annotations

import math
import os
import resource
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from sim.scenario import model
from sim.scenario.model import Campaign, Scenario, same_value
from sim.scenario.people import make_people
from sim.scenario.units import show

#: Bytes each person costs besides their own record: the people index, qualification records.
PER_PERSON = 300
#: Bytes of a batch run admitted for everyone at once, and of one that stays in flight.
BATCH_RUN = 2_500
PARKED_RUN = 5_200
#: Bytes a run of ``sim`` needs besides its people (the interpreter, trio, the scenario).
BASE = 64 * 2**20
#: People made to measure a person's record.
SAMPLE = 512

#: Activities a second the engine manages on a 2-core machine, the log on (measured on
#: 2026-12-02: 63,000 for a million people, 67,000 for the default scenario x100).
ACTIVITIES_PER_SECOND = 65_000
#: Work estimates above this many activities are announced (about 10 minutes of wall time).
WORK_WARNING = 40_000_000


@attrs.frozen(kw_only=True)
class MemoryEstimate:
    """The bytes a scenario's people need, and why."""

    total: int
    people: int
    per_person: int
    why: str


def estimate_memory(scenario: Scenario) -> MemoryEstimate:
    """The memory the people of ``scenario`` need while it runs (see the module's notes)."""
    people = scenario.population + len(scenario.people) + round(_created_people(scenario))
    record = _record_bytes(scenario)
    batches = [c for c in scenario.campaigns.values() if c.kind == "batch" and c.active and c.schedule is not None]
    per_person = record + PER_PERSON
    fields = f"{len(scenario.fields)} field{'s' if len(scenario.fields) != 1 else ''}"
    why = f"{_kb(record)} for a person's record with {fields}, {_kb(PER_PERSON)} of bookkeeping"
    if batches:
        parked = scenario.queue is not None or any(_may_park(c, scenario) for c in batches)
        run = PARKED_RUN if parked else BATCH_RUN
        per_person += run
        why += f', {_kb(run)} for a run of batch campaign "{batches[0].name}"'
        if parked:
            why += " that can wait in flight"
    return MemoryEstimate(total=people * per_person + BASE, people=people, per_person=per_person, why=why)


def memory_problem(scenario: Scenario) -> str | None:
    """Why the people of ``scenario`` cannot fit in this machine's memory, or None."""
    if scenario.population + len(scenario.people) + _created_people(scenario) < 100_000:
        return None  # nothing to measure: a small population always fits
    estimate = estimate_memory(scenario)
    available, limit = available_memory()
    if estimate.total <= available:
        return None
    return (
        f"{estimate.people:,} people need about {_gb(estimate.total)} of memory ({_kb(estimate.per_person)} a "
        f"person: {estimate.why}), but {limit} leaves {_gb(available)}; about "
        f"{max(0, (available - BASE) // estimate.per_person):,} people fit"
    )


def available_memory() -> tuple[int, str]:
    """The bytes this process may still use, and what sets that: the machine's available
    memory, the cgroup's limit or the address-space limit (``ulimit -v``), the lowest."""
    options: list[tuple[int, str]] = []
    meminfo = _read_meminfo()
    if "MemAvailable" in meminfo:
        options.append((meminfo["MemAvailable"], "this machine's available memory"))
    cgroup = _cgroup_room()
    if cgroup is not None:
        options.append((cgroup, "the container's memory limit"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        # Address space, not resident memory: what the process maps already counts.
        options.append((max(0, soft - _mapped_bytes()), f"the address-space limit (ulimit -v: {_gb(soft)})"))
    if not options:
        return 2**62, "nothing"
    return min(options)


#: How close to a memory limit a run may go before `MemoryGuard` stops it: a tenth of the
#: limit, and at least this many bytes (room for the summary, the metrics, the trace).
GUARD_BYTES = 128 * 2**20


def memory_pressure() -> str | None:
    """The memory limit this process is about to reach, or None: less than a tenth of it
    (at least `GUARD_BYTES`) left under the address-space limit, the container's limit,
    or in the machine's available memory."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft - _mapped_bytes() < max(GUARD_BYTES, soft // 10):
        return f"the address-space limit (ulimit -v: {_gb(soft)})"
    cgroup = _cgroup_room()
    if cgroup is not None and cgroup < GUARD_BYTES:
        return "the container's memory limit"
    meminfo = _read_meminfo()
    if "MemAvailable" in meminfo and meminfo["MemAvailable"] < max(GUARD_BYTES, meminfo.get("MemTotal", 0) // 50):
        return "this machine's available memory"
    return None


@attrs.define(eq=False)
class MemoryGuard:
    """An activity sink that stops a run before it runs out of memory.

    Every `every` activities it looks at `memory_pressure`; near a limit it calls ``stop``
    (a run's `request_stop`), so the run ends at its next task switch with a summary,
    whole log lines and valid files, instead of a MemoryError in the middle of anything.
    ``reached`` says which limit, once it has.
    """

    stop: Callable[[], None] | None = None
    every: int = 4096
    reached: str | None = None
    _count: int = 0

    def write(self, activity: object) -> None:
        self._count += 1
        if self._count % self.every or self.reached is not None:
            return
        self.reached = memory_pressure()
        if self.reached is not None and self.stop is not None:
            self.stop()

    def write_fields(self, fields: object) -> None:
        """`write` without a record: the engine then makes none for this sink."""
        self.write(None)

    def close(self) -> None:
        pass


# -- work ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkEstimate:
    """About how many activities a run logs and where they come from, largest first."""

    activities: float
    sources: tuple[tuple[str, float], ...]


def estimate_work(scenario: Scenario) -> WorkEstimate:
    """The activities ``scenario`` will log, roughly (see the module's notes)."""
    fanout = _Fanout(scenario)
    sources: list[tuple[str, float]] = []
    people = scenario.population + len(scenario.people) + _created_people(scenario)
    for number, generator in enumerate(scenario.generators, 1):
        arrivals = _arrivals(generator, scenario.duration)
        if arrivals:
            each = fanout.of_activity(generator.type, generator.attributes, arrivals, people)
            what = f'[[load]] {number}: {_big(arrivals)} "{generator.type}" activities{fanout.cycle_note()}'
            sources.append((what, each))
    # Timed activities, by what they are: their type and attributes.
    timed: dict[tuple[str, str], tuple[Mapping[str, object], int]] = {}

    def tally(type_: str, attributes: Mapping[str, object]) -> None:
        key = (type_, repr(sorted(attributes.items())))
        timed[key] = (attributes, timed.get(key, (attributes, 0))[1] + 1)

    for activity in scenario.activities:
        if activity.at < scenario.duration:
            tally(activity.type, activity.attributes)
    for replay in scenario.replays:
        for at, kind in zip(replay.times, replay.kinds, strict=True):
            if at < scenario.duration:
                tally(replay.templates[kind].type, replay.templates[kind].attributes)
    by_type: dict[str, tuple[int, float, str]] = {}
    for (type_, _), (attributes, count) in timed.items():
        activities = fanout.of_activity(type_, attributes, count, people)
        known = by_type.get(type_, (0, 0.0, ""))
        by_type[type_] = (known[0] + count, known[1] + activities, known[2] or fanout.cycle_note())
    for type_, (count, activities, note) in by_type.items():
        sources.append((f'{count:,} timed "{type_}" {_plural(count, "activity", "activities")}{note}', activities))
    for campaign in scenario.campaigns.values():
        if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
            passes = _passes(campaign, scenario.duration)
            if passes:
                activities = passes + passes * people * fanout.of_run(campaign)
                what = (
                    f'batch "{campaign.name}": {_big(passes)} {_plural(round(passes), "pass", "passes")} over '
                    f"{_big(people)} people{fanout.cycle_note()}"
                )
                sources.append((what, activities))
    sources.sort(key=lambda pair: -pair[1])
    return WorkEstimate(activities=sum(count for _, count in sources), sources=tuple(sources))


def work_warning(scenario: Scenario) -> str | None:
    """A warning when ``scenario`` asks for more work than finishes in about ten minutes."""
    work = estimate_work(scenario)
    if work.activities <= WORK_WARNING:
        return None
    seconds = work.activities / ACTIVITIES_PER_SECOND
    main = ", ".join(f"{what} (about {_big(count)} activities)" for what, count in work.sources[:3])
    cascade = "step budget" in work.sources[0][0]
    advice = (
        "Lower [sim] step_budget, or break the cycle, to try it first"
        if cascade
        else "Shorten [sim] duration or lower the load to try it first"
    )
    return (
        f"a very long run: about {_big(work.activities)} activities, {_wall(seconds)} of wall time at the "
        f"{ACTIVITIES_PER_SECOND:,} activities/s a quiet 2-core machine manages; mostly {main}. {advice} "
        "(Ctrl-C stops a run with a partial summary)"
    )


class _Fanout:
    """Activities set off by one activity or one run, following triggers (with their
    field, list, program, form... constraints), requests and executables through the
    campaigns. Campaigns that start each other in a cycle count as the step budget per
    person. A graph of campaigns, its strongly connected components found without
    recursion, and one pass over them: linear in the campaigns and steps."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        #: The step budget as a float (it may be an integer no float holds).
        self.budget = float(min(scenario.step_budget, 10**18))
        self.listeners: dict[str, list[tuple[Campaign, model.Trigger]]] = {}
        for campaign in scenario.campaigns.values():
            if campaign.kind == "trigger" and campaign.active:
                for trigger in campaign.triggers:
                    self.listeners.setdefault(trigger.activity, []).append((campaign, trigger))
        self.total = self._totals()
        self.cyclic = False

    def of_activity(self, type_: str, attributes: Mapping[str, object], count: float, people: float) -> float:
        """The activities ``count`` activities of ``type_`` log, themselves included."""
        each = 1.0 + sum(self.total[name] for name in self._started_by(type_, attributes))
        self.cyclic = math.isinf(each)
        if self.cyclic:  # campaigns start each other: each person runs to the step budget
            return min(count, people) * self.budget * 2
        return count * each

    def of_run(self, campaign: Campaign) -> float:
        each = self.total[campaign.name]
        self.cyclic = math.isinf(each)
        return self.budget * 2 if self.cyclic else each

    def cycle_note(self) -> str:
        """What the last estimate met: a cycle, bounded by the step budget only."""
        if not self.cyclic:
            return ""
        step_budget = self.scenario.step_budget
        budget = f"{step_budget:,}" if step_budget < 10**18 else show(step_budget)
        return f", each setting off campaigns that start each other until the step budget ({budget} a person)"

    def _started_by(self, type_: str, attributes: Mapping[str, object]) -> list[str]:
        """The campaigns one activity starts a run of (one per campaign, R1)."""
        if type_ == "request_campaign" and "campaign" in attributes:
            target = self.scenario.campaigns.get(str(attributes["campaign"]))
            requested = target is not None and any(t.name == "campaign_is_requested" for t in target.triggers)
            return [target.name] if requested and target is not None and target.active else []
        started: dict[str, None] = {}
        for campaign, trigger in self.listeners.get(type_, ()):
            if all(
                key not in attributes or any(same_value(attributes[key], v) for v in values)  # type: ignore[arg-type]
                for key, values in trigger.constraints
                if key in _KEYS
            ):
                started[campaign.name] = None
        return list(started)

    def _alternatives(self, step: model.Step) -> list[tuple[list[str], list[str]]]:
        """For each action a step may take: (campaigns its activity starts, campaigns it executes)."""
        out = []
        for action in step.actions():
            executes = [action.campaign] if isinstance(action, model.ExecuteCampaign) else []
            started: list[str] = []
            if isinstance(action, model.RequestCampaign):
                started = self._started_by("request_campaign", {"campaign": action.campaign})
            elif isinstance(action, model.CallWebhook):
                for field, _ in action.response:
                    started += self._started_by("change_data_value", {"field": field})
            else:
                logged = _ACTIVITY_OF.get(type(action))
                if logged is not None:
                    started = self._started_by(logged[0], {logged[1]: getattr(action, logged[1])})
            out.append((started, executes))
        return out

    def _totals(self) -> dict[str, float]:
        """Campaign -> activities one run of it logs with all it sets off (inf: a cycle)."""
        campaigns = self.scenario.campaigns
        steps = {name: [self._alternatives(step) for step in c.flow] for name, c in campaigns.items()}
        edges = {
            name: list(dict.fromkeys(d for step in flow for started, executes in step for d in (*started, *executes)))
            for name, flow in steps.items()
        }
        total: dict[str, float] = {}
        for component in _components(edges):  # sinks first: what a campaign starts is known
            members = set(component)
            cyclic = len(component) > 1 or component[0] in edges[component[0]]
            for name in component:
                if cyclic or any(math.isinf(total[d]) for d in edges[name] if d not in members):
                    total[name] = math.inf
                    continue
                run = 2.0  # run_started and its end
                for step in steps[name]:
                    run += (
                        1.0
                        + max(
                            (sum(total[d] for d in started) + sum(total[d] for d in executes))
                            for started, executes in step
                        )
                        if step
                        else 1.0
                    )
                total[name] = run
        return total


def _components(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of a graph (Tarjan's algorithm, iterative), each
    after every component it has an edge to."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if position < len(successors):
                work.append((node, position + 1))
                following = successors[position]
                if following not in index:
                    work.append((following, 0))
                elif following in on_stack:
                    low[node] = min(low[node], index[following])
                continue
            if work:  # back in the caller: carry the lowest index up
                caller = work[-1][0]
                low[caller] = min(low[caller], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out


#: The activity a step's action logs (R17) that a trigger can listen for, and the
#: attribute that names what it is about.
_ACTIVITY_OF: Mapping[type, tuple[str, str]] = {
    model.ChangeDataValue: ("change_data_value", "field"),
    model.ChangeScore: ("change_score", "field"),
    model.AddToList: ("add_to_list", "list"),
    model.ChangeProgramStatus: ("change_program_status", "program"),
}

#: The trigger constraints the estimate follows: what names the thing an activity is about.
_KEYS = frozenset(("field", "list", "program", "form", "link", "page", "source"))


def _arrivals(generator: model.Generator, duration: float) -> float:
    stop = duration if generator.stop is None else min(duration, generator.stop)
    return max(0.0, stop - generator.start) * generator.rate


def _created_people(scenario: Scenario) -> float:
    return sum(_arrivals(g, scenario.duration) * g.new_people for g in scenario.generators)


def _passes(campaign: Campaign, duration: float) -> float:
    schedule = campaign.schedule
    assert schedule is not None
    if schedule.at >= duration:
        return 0.0
    if not schedule.every:
        return 1.0
    return 1.0 + math.floor((duration - schedule.at) / schedule.every)


def _may_park(campaign: Campaign, scenario: Scenario) -> bool:
    """Whether a run of ``campaign`` can stay in flight: it waits or calls a webhook."""
    seen: set[str] = set()

    def parks(name: str) -> bool:
        if name in seen:
            return False
        seen.add(name)
        for step in scenario.campaigns[name].flow:
            for action in step.actions():
                if isinstance(action, (model.Wait, model.CallWebhook)):
                    return True
                if isinstance(action, model.ExecuteCampaign) and parks(action.campaign):
                    return True
        return False

    return parks(campaign.name)


def _record_bytes(scenario: Scenario) -> int:
    """A person's record with ``scenario``'s fields, measured on a sample of people."""
    sample = attrs.evolve(scenario, population=SAMPLE, people=())
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        people = make_people(sample)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    del people
    return max(64, used // SAMPLE)


def _read_meminfo() -> dict[str, int]:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name] = int(parts[0]) * 1024
    return out


def _cgroup_room() -> int | None:
    """The room left under a cgroup v2 memory limit, if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
    except OSError:
        return None
    if not limit.isdigit() or not used.isdigit():
        return None  # "max": no limit
    return max(0, int(limit) - int(used))


def _mapped_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _kb(size: float) -> str:
    return f"{size / 1024:.1f} KB"


def _gb(size: float) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:,.0f} MB"


def _big(count: float) -> str:
    return f"{count:,.0f}" if count < 1e12 else f"{count:.1e}"


def _wall(seconds: float) -> str:
    for unit, size in (("year", 365 * 86400.0), ("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            count = seconds / size
            if count >= 1e6:
                return f"about {count:.1e} {unit}s"
            return f"about {count:,.0f} {_plural(round(count), unit, unit + 's')}"
    return f"about {seconds:.0f} seconds"


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many

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
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from sim import model
from sim.model import Campaign, Scenario
from sim.people import make_people
from sim.units import show

#: Bytes each person costs besides their own record: the people index, qualification records.
PER_PERSON = 300
#: Bytes of a batch run admitted for everyone at once, and of one that stays in flight.
BATCH_RUN = 2_500
PARKED_RUN = 5_200
#: Bytes a run of ``sim`` needs besides its people (the interpreter, trio, the scenario).
BASE = 64 * 2**20
#: People made to measure a person's record.
SAMPLE = 512

#: Activities a second the engine manages on a 2-core machine (measured: 48,000-60,000).
ACTIVITIES_PER_SECOND = 50_000
#: Work estimates above this many activities are announced (about 10 minutes of wall time).
WORK_WARNING = 30_000_000


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
    why = f"{_kb(record)} for a person's record with {fields}"
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
    if scenario.population + len(scenario.people) < 100_000:
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
            each = fanout.of_activity(generator.type, arrivals, people)
            what = f'[[load]] {number}: {arrivals:,.0f} "{generator.type}" activities{fanout.cycle_note()}'
            sources.append((what, each))
    timed: dict[str, int] = {}
    for activity in scenario.activities:
        if activity.at < scenario.duration:
            timed[activity.type] = timed.get(activity.type, 0) + 1
    for replay in scenario.replays:
        for at, kind in zip(replay.times, replay.kinds, strict=True):
            if at < scenario.duration:
                type_ = replay.templates[kind].type
                timed[type_] = timed.get(type_, 0) + 1
    for type_, count in timed.items():
        each = fanout.of_activity(type_, count, people)
        sources.append((f'{count:,} timed "{type_}" activities{fanout.cycle_note()}', each))
    for campaign in scenario.campaigns.values():
        if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
            passes = _passes(campaign, scenario.duration)
            if passes:
                activities = passes + passes * people * fanout.of_run(campaign, people)
                what = f'batch "{campaign.name}": {passes:,.0f} passes over {people:,.0f} people{fanout.cycle_note()}'
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
    return (
        f"a very long run: about {_big(work.activities)} activities, {_wall(seconds)} of wall time at the "
        f"{ACTIVITIES_PER_SECOND:,} activities/s a 2-core machine manages; mostly {main}. Shorten [sim] "
        "duration or lower the load to try it first (Ctrl-C stops a run with a partial summary)"
    )


class _Fanout:
    """Activities set off by one activity or one run, following triggers, requests and
    executables through the campaigns; a cycle counts as the step budget per person."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.listeners: dict[str, list[Campaign]] = {}
        for campaign in scenario.campaigns.values():
            if campaign.kind == "trigger" and campaign.active:
                for trigger in campaign.triggers:
                    group = self.listeners.setdefault(trigger.activity, [])
                    if campaign not in group:
                        group.append(campaign)
        #: The step budget as a float (it may be an integer no float holds).
        self.budget = float(min(scenario.step_budget, 10**18))
        self._runs: dict[str, float] = {}
        self._stack: list[str] = []
        self.cyclic = False

    def of_activity(self, type_: str, count: float, people: float) -> float:
        """The activities ``count`` activities of ``type_`` log, themselves included."""
        self.cyclic = False
        each = 1.0 + self._after(type_)
        total = count * each
        if self.cyclic:  # a campaign re-triggers itself: each person runs to the step budget
            total = max(total, min(count, people) * self.budget * 2)
        return total

    def cycle_note(self) -> str:
        """What the last estimate met: a cycle, bounded by the step budget only."""
        if not self.cyclic:
            return ""
        budget = show(self.scenario.step_budget)
        return f", each setting off campaigns that trigger each other until the step budget ({budget} a person)"

    def of_run(self, campaign: Campaign, people: float) -> float:
        self.cyclic = False
        each = self._run(campaign)
        if self.cyclic:
            return max(each, self.budget * 2.0)
        return each

    def _after(self, type_: str) -> float:
        return sum(self._run(campaign) for campaign in self.listeners.get(type_, ()))

    def _run(self, campaign: Campaign) -> float:
        """Activities of one run of ``campaign``: its start and end, its steps and what
        they set off."""
        known = self._runs.get(campaign.name)
        if known is not None:
            return known
        if campaign.name in self._stack:
            self.cyclic = True
            return 0.0
        self._stack.append(campaign.name)
        total = 2.0
        for step in campaign.flow:
            total += 1.0
            for action in _actions(step):
                total += self._action(action)
        self._stack.pop()
        if not self.cyclic:
            self._runs[campaign.name] = total
        return total

    def _action(self, action: model.Action) -> float:
        if isinstance(action, model.ExecuteCampaign):
            return self._run(self.scenario.campaigns[action.campaign])
        if isinstance(action, model.RequestCampaign):
            target = self.scenario.campaigns.get(action.campaign)
            return self._run(target) if target is not None else 0.0
        activity = _ACTIVITY_OF.get(type(action))
        return self._after(activity) if activity is not None else 0.0


#: The trigger activity a step's action logs (R17), for those a trigger can listen for.
_ACTIVITY_OF: Mapping[type, str] = {
    model.ChangeDataValue: "change_data_value",
    model.ChangeScore: "change_score",
    model.AddToList: "add_to_list",
    model.ChangeProgramStatus: "change_program_status",
}


def _actions(step: model.Step) -> Iterator[model.Action]:
    if step.action is not None:
        yield step.action
    for choice in step.choices:
        yield choice.action


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
            for action in _actions(step):
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
    for unit, size in (("years", 365 * 86400.0), ("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return (
                f"about {seconds / size:,.0f} {unit}" if seconds / size < 1e6 else f"about {seconds / size:.1e} {unit}"
            )
    return f"about {seconds:.0f} seconds"

"""The exhaustive search: every Mazurkiewicz trace of each group of people, depth first.

`search` runs the default (oldest-first) schedule, ties the items its steps touched into
groups (`sim.verify.groups`), and explores each group that has a race with
`sim.verify.dpor`'s reduction: stateless, each schedule replays a prefix of choices and
goes on oldest first, with the sleep sets of the path. A group that a later schedule
ties to another (a step that touches both) is explored again as one. The bounds
(``max_schedules``, ``preemption_bound``) and a stop request end it early, and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from sim.scenario.model import Scenario
from sim.verify.dependence import Accesses, Item
from sim.verify.dpor import Node, Traced, races_of, run_traced, trace_key
from sim.verify.explore import Stop
from sim.verify.groups import Components, GroupClass, GroupOutcome, digest_of, person_order, project
from sim.verify.step_trace import Owner, ScheduleRun, Step

#: ``sim explore --exhaustive``'s default bound on the schedules run.
DEFAULT_MAX_SCHEDULES = 10_000


@attrs.frozen(kw_only=True)
class GroupResult:
    """A group's search: its people, the schedules run for it (``blocked`` of them cut short
    as repeats, ``cut`` by the preemption bound), the distinct traces found, its outcome
    classes (most common first), and whether they are all (``complete``)."""

    people: tuple[str, ...]
    schedules: int
    blocked: int
    traces: int
    classes: tuple[GroupClass, ...]
    complete: bool
    cut: int = 0


@attrs.frozen(kw_only=True)
class Search:
    """An exhaustive search: each group's result, the people no step touched, those of racing
    groups a bound or a stop left unexplored, and why it stopped early if it did: "schedules"
    (the bound), "preemptions" (the bound cut some schedules), "interrupted" (a signal); None:
    complete."""

    groups: tuple[GroupResult, ...]
    untouched: tuple[str, ...]
    unexplored: tuple[str, ...]
    schedules: int
    max_schedules: int
    preemption_bound: int | None
    stopped_by: str | None

    @property
    def complete(self) -> bool:
        return self.stopped_by is None

    @property
    def traces(self) -> int:
        """Traces found, summed over the groups (the scenario's are their product)."""
        return sum(group.traces for group in self.groups)

    @property
    def races(self) -> bool:
        """Whether any group has more than one outcome."""
        return any(len(group.classes) > 1 for group in self.groups)


@attrs.define(eq=False)
class _Budget:
    max_schedules: int
    preemption_bound: int | None
    stop: Stop
    progress: Callable[[int], None] | None
    schedules: int = 0
    stopped_by: str | None = None
    cut_by_bound: bool = False

    def run(self, scenario: Scenario, prefix: list[Owner], asleep_at: list[dict[Owner, Accesses]]) -> Traced | None:
        """One more schedule, or None when a bound or a stop says no more."""
        if self.stop.requested:
            self.stopped_by = "interrupted"
            return None
        if self.schedules >= self.max_schedules:
            self.stopped_by = self.stopped_by or "schedules"
            return None
        traced = run_traced(scenario, prefix, asleep_at, max_deviations=self.preemption_bound, stop=self.stop)
        if traced is None:
            self.stopped_by = "interrupted"
            return None
        self.schedules += 1
        if self.progress is not None:
            self.progress(self.schedules)
        return traced


def search(
    scenario: Scenario,
    *,
    max_schedules: int = DEFAULT_MAX_SCHEDULES,
    preemption_bound: int | None = None,
    progress: Callable[[int], None] | None = None,
    stop: Stop | None = None,
) -> Search:
    """Every trace of every group of ``scenario`` (see the module's docstring)."""
    budget = _Budget(max_schedules, preemption_bound, stop or Stop(), progress)
    first = budget.run(scenario, [], [])
    if first is None:
        return _stopped(budget)
    components = Components()
    _tie(components, first.run.steps)
    results, left = _search_groups(scenario, first, components, budget)
    touched = {person for people in results for person in people}
    unexplored = {person for people in left for person in people}
    everyone = {str(row[0]) for row in first.outcome.people} if first.outcome is not None else set()
    untouched = tuple(sorted(everyone - touched - unexplored))
    stopped_by = budget.stopped_by or ("preemptions" if budget.cut_by_bound else None)
    ordered = sorted(results.values(), key=lambda result: [person_order(pid) for pid in result.people])
    return Search(
        groups=tuple(ordered),
        untouched=untouched,
        unexplored=tuple(sorted(unexplored)),
        schedules=budget.schedules,
        max_schedules=max_schedules,
        preemption_bound=preemption_bound,
        stopped_by=stopped_by,
    )


def groups_of(scenario: Scenario, *, stop: Stop | None = None) -> tuple[tuple[str, ...], ...]:
    """The groups of people of ``scenario``'s default (oldest-first) schedule, by the items
    its steps touched together, each person no step touched a group alone; in natural order.
    Other schedules may tie more (the exhaustive search explores those again as one); for
    `sim.verify.explore`, which counts each group's outcomes of the schedules it samples.
    One traced run (about three untraced ones); a ``stop`` request cuts it short: no groups."""
    first = run_traced(scenario, stop=stop)
    if first is None or first.outcome is None:
        return ()
    components = Components()
    _tie(components, first.run.steps)
    groups = [tuple(sorted(people, key=person_order)) for _, people in components.groups()]
    touched = {person for people in groups for person in people}
    groups.extend((str(row[0]),) for row in first.outcome.people if row[0] not in touched)
    return tuple(sorted(groups, key=lambda people: person_order(people[0])))


def _stopped(budget: _Budget) -> Search:
    return Search(
        groups=(),
        untouched=(),
        unexplored=(),
        schedules=budget.schedules,
        max_schedules=budget.max_schedules,
        preemption_bound=budget.preemption_bound,
        stopped_by=budget.stopped_by or "interrupted",
    )


def _tie(components: Components, steps: list[Step]) -> None:
    for step in steps:
        components.join(step.accesses)


def _search_groups(
    scenario: Scenario, first: Traced, components: Components, budget: _Budget
) -> tuple[dict[frozenset[str], GroupResult], set[frozenset[str]]]:
    """Each group of people: searched when it races, its one outcome otherwise; and the racing
    groups a bound or a stop left unexplored. A schedule that ties groups together (a step
    that touches both), whichever group's search ran it, makes them one group, searched again."""
    racing = [next(iter(first.run.steps[race.first].accesses)) for race in races_of(first.run.steps, _touches)]
    results: dict[frozenset[str], GroupResult] = {}
    searched: dict[str, frozenset[str]] = {}  # person -> the key of the result they are in
    left: set[frozenset[str]] = set()
    pending = [anchor for anchor, _ in components.groups()]
    while pending:
        anchor = pending.pop(0)
        people = components.people(anchor)
        if people in results or people in left:
            continue  # another anchor of a group handled already
        stale = {searched[person] for person in people if person in searched} - {people}
        for key in stale:  # handled before a schedule tied it to more people
            results.pop(key, None)
            left.discard(key)
        root = components.root(anchor)
        if not stale and all(components.root(item) != root for item in racing):
            results[people] = _single(first, people)
        elif budget.stopped_by in ("schedules", "interrupted"):
            left.add(people)
        else:
            result = _search_group(scenario, first, anchor, people, components, budget)
            if components.people(anchor) != people:  # tied to others mid-search: all again, as one
                racing.append(anchor)
                pending.insert(0, anchor)
                continue
            results[people] = result
        searched.update((person, people) for person in people)
    return results, left


def _touches(step: Step) -> bool:
    return bool(step.accesses)


def _single(first: Traced, people: frozenset[str]) -> GroupResult:
    """A group with no race: the one outcome of the first schedule."""
    assert first.outcome is not None
    outcome = project(first.outcome, people)
    return GroupResult(
        people=tuple(sorted(people, key=person_order)),
        schedules=1,
        blocked=0,
        traces=1,
        classes=(GroupClass(outcome=outcome, runs=1, schedule=first.schedule),),
        complete=True,
    )


def _search_group(
    scenario: Scenario,
    first: Traced,
    anchor: Item,
    people: frozenset[str],
    components: Components,
    budget: _Budget,
) -> GroupResult:
    """Depth-first source-DPOR over the group of ``anchor``, starting from ``first``."""
    root = components.root(anchor)

    def in_group(step: Step) -> bool:
        return bool(step.accesses) and components.root(next(iter(step.accesses))) == root

    nodes: list[Node] = []
    traces: set[bytes] = set()
    classes: dict[bytes, _Tally] = {}
    schedules = blocked = cut = 0
    traced: Traced | None = first
    complete = True
    while traced is not None:
        schedules += 1
        run = traced.run
        if run.over_bound:
            budget.cut_by_bound = True
        _follow(nodes, run)
        if traced is not first:
            _tie(components, run.steps)
            if components.people(anchor) != people:
                break  # tied to another group: the caller starts again with both
            root = components.root(anchor)
        for race in races_of(run.steps, in_group):
            if _add_backtrack(nodes, run.steps, race.first, race.initials, budget):
                complete = False  # the preemption bound left a reversal out
        if traced.outcome is None:
            if run.over_bound:
                cut += 1
                complete = False
            else:
                blocked += 1
        else:
            key = trace_key(run.steps, in_group)
            if key not in traces:
                traces.add(key)
                outcome = project(traced.outcome, people)
                fingerprint = digest_of(outcome)
                tally = classes.get(fingerprint)
                if tally is None:
                    tally = classes[fingerprint] = _Tally(outcome=outcome, schedule=traced.schedule)
                tally.traces += 1
        nxt = _next_prefix(nodes)
        if nxt is None:
            break
        prefix, asleep_at = nxt
        traced = budget.run(scenario, prefix, asleep_at)
        if traced is None:
            complete = False
    ranked = sorted(classes.values(), key=lambda tally: -tally.traces)  # stable: ties in the order found
    return GroupResult(
        people=tuple(sorted(people, key=person_order)),
        schedules=schedules,
        blocked=blocked,
        cut=cut,
        traces=len(traces),
        classes=tuple(GroupClass(outcome=t.outcome, runs=t.traces, schedule=t.schedule) for t in ranked),
        complete=complete,
    )


@attrs.define(eq=False)
class _Tally:
    outcome: GroupOutcome
    schedule: str
    traces: int = 0


def _follow(nodes: list[Node], run: ScheduleRun) -> None:
    """Extend the path with the choice points ``run`` met past its prefix, and note the step
    the last prefix point's pick took."""
    deviations = 0
    for number, point in enumerate(run.points):
        accesses = run.steps[point.step].accesses if point.step >= 0 else {}
        if number < len(nodes):
            node = nodes[number]
            node.first.setdefault(point.chosen, accesses)
        else:
            nodes.append(
                Node(
                    candidates=point.candidates,
                    asleep=point.asleep,
                    chosen=point.chosen,
                    deviations=deviations,
                    backtrack={point.chosen: None},
                    done={point.chosen: None},
                    first={point.chosen: accesses},
                )
            )
        if point.candidates.index(point.chosen):
            deviations += 1


def _add_backtrack(
    nodes: list[Node], steps: list[Step], first: int, initials: tuple[Owner, ...], budget: _Budget
) -> bool:
    """Make sure a task that starts the race's reversal is tried at ``first``'s choice point;
    whether the preemption bound kept it from being tried."""
    point = steps[first].point
    if point < 0:
        raise AssertionError(f"a race on step {first}, which was the only one due: the model of order is wrong")
    node = nodes[point]
    if any(owner in node.backtrack and owner not in node.asleep for owner in initials):
        return False  # one that can start it is (or was) tried here already
    options = [owner for owner in initials if owner in node.candidates and owner not in node.asleep]
    every = not options
    if every:
        # Every task that could start the reversal sleeps here. Sleep sets say that order
        # was run from an earlier point, but the sleeper's step there may only come first
        # once another task's step (that wakes it) has run, and the steps between the race's
        # two need not hold that one: the ground truth found such designs (a Remove from
        # Flow racing a request whose campaign reads what the removed run writes). So try
        # every task awake here, as plain DPOR would.
        options = [owner for owner in node.candidates if owner not in node.asleep]
    bound = budget.preemption_bound
    if bound is not None:
        fitting = [o for o in options if not node.candidates.index(o) or node.deviations < bound]
        if options and not fitting:
            budget.cut_by_bound = True
            return True
        options = fitting
    for owner in sorted(options, key=node.candidates.index)[: len(options) if every else 1]:
        node.backtrack[owner] = None
    return False


def _next_prefix(nodes: list[Node]) -> tuple[list[Owner], list[dict[Owner, Accesses]]] | None:
    """The deepest choice point with a candidate still to try: the path to it, that candidate,
    and the sleep sets on the way. None when every one was tried."""
    for depth in range(len(nodes) - 1, -1, -1):
        node = nodes[depth]
        todo = [owner for owner in node.backtrack if owner not in node.done and owner not in node.asleep]
        if todo:
            chosen = min(todo, key=node.candidates.index)
            node.done[chosen] = None
            node.chosen = chosen
            del nodes[depth + 1 :]
            prefix = [n.chosen for n in nodes]
            asleep_at = [{o: n.first[o] for o in n.done if o != n.chosen and o in n.first} for n in nodes]
            return prefix, asleep_at
    return None

"""One run as the exhaustive search sees it: its steps, what each touched, and its choices.

A *step* is what one kernel entry does from being picked until it waits again (a task's
turn, or a kernel call made whole). `ScheduleRun` is both the kernel's `Tracer` and its
strategy for one schedule of a search (`sim.verify.dpor`): it replays a prefix of choices,
then takes the oldest task that is not asleep; it records every step with its accesses
(`sim.verify.dependence`), the step that made or woke its task, and each choice point's
candidates.

Identities are structural: a task or call chain is ``parent + (k,)``, the ``k``-th thing its
parent made, the run itself ``()``. The same task has the same identity in every
schedule that makes it the same way, so a search can name candidates across runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from sim.verify.dependence import Accesses, AccessLog, dependent

#: A task's or call chain's identity: the path of "k-th made by" from the run itself.
Owner = tuple[int, ...]


class NondeterministicRun(RuntimeError):
    """Replaying a prefix of choices met other choice points than the run it came from."""


@attrs.define(eq=False, slots=True)
class Step:
    """One step: whose (``owner``, its ``count``-th step), when (µs), what it touched, the
    steps that made or woke its task just before it (``causes``), and the choice point
    it was picked at (index into the run's ``points``; -1: it was the only one due)."""

    owner: Owner
    count: int
    time: int
    accesses: Accesses
    causes: list[int]
    point: int = -1


@attrs.frozen(kw_only=True)
class Point:
    """A choice point: the candidates (oldest first), who was picked, who was asleep, and
    the step the pick took (index into the run's steps)."""

    candidates: tuple[Owner, ...]
    chosen: Owner
    asleep: frozenset[Owner]
    step: int


@attrs.define(eq=False)
class ScheduleRun:
    """The tracer and strategy of one schedule: ``prefix`` (the owner to pick at each of the
    first choice points) replayed, then the oldest candidate not asleep.

    ``asleep_at[i]`` are the tasks put to sleep at prefix point ``i`` (siblings explored
    before), each with the step it takes there. A sleeping task wakes when a step it
    depends on runs. When every candidate is asleep the schedule can only repeat one
    explored before: the run is *blocked*, and ``stop`` ends it. ``max_deviations`` bounds
    the picks of other than the oldest candidate; a run that would need one more is
    blocked too (``over_bound``).
    """

    prefix: Sequence[Owner]
    asleep_at: Sequence[Mapping[Owner, Accesses]]
    #: Where the race watch puts each access: this run points it at the step running now.
    log: AccessLog
    stop: Callable[[], None]
    max_deviations: int | None = None
    steps: list[Step] = attrs.field(factory=list, init=False)
    points: list[Point] = attrs.field(factory=list, init=False)
    blocked: bool = attrs.field(default=False, init=False)
    over_bound: bool = attrs.field(default=False, init=False)
    deviations: int = attrs.field(default=0, init=False)
    _made: dict[Owner, int] = attrs.field(factory=dict, init=False)  # owner -> children made so far
    _causes: dict[Owner, list[int]] = attrs.field(factory=dict, init=False)
    _counts: dict[Owner, int] = attrs.field(factory=dict, init=False)
    _sleep: dict[Owner, Accesses] = attrs.field(factory=dict, init=False)
    _checked: int = attrs.field(default=-1, init=False)  # the last step the sleep set has seen
    _picked: tuple[int, Owner] | None = attrs.field(default=None, init=False)

    # -- Tracer

    def owner_of(self, parent: object) -> object:
        parent_owner: Owner = parent if isinstance(parent, tuple) else ()
        made = self._made.get(parent_owner, 0)
        self._made[parent_owner] = made + 1
        child = (*parent_owner, made)
        if self.steps:
            self._causes.setdefault(child, []).append(len(self.steps) - 1)
        return child

    def step(self, owner: object, time: int) -> None:
        assert isinstance(owner, tuple)
        self._see_last()
        count = self._counts.get(owner, 0)
        self._counts[owner] = count + 1
        causes = self._causes.pop(owner, None) or []
        step = Step(owner=owner, count=count, time=time, accesses={}, causes=causes)
        picked = self._picked
        if picked is not None:
            point, chosen = picked
            assert chosen == owner, "the kernel ran another entry than the one picked"
            step.point = point
            self.points[point] = attrs.evolve(self.points[point], step=len(self.steps))
            self._picked = None
        elif owner in self._sleep:  # the only one due is asleep
            self._block()
        self.steps.append(step)
        self.log.current = step.accesses

    def woke(self, owner: object) -> None:
        assert isinstance(owner, tuple)
        if self.steps:
            self._causes.setdefault(owner, []).append(len(self.steps) - 1)

    # -- Strategy

    def choose(self, count: int) -> int:
        raise AssertionError("the kernel gives ScheduleRun its candidates with choose_task")

    def choose_task(self, owners: list[object]) -> int:
        self._see_last()
        candidates = tuple(owner for owner in owners if isinstance(owner, tuple))
        assert len(candidates) == len(owners), "a candidate without an identity"
        number = len(self.points)
        if number < len(self.prefix):
            chosen = self.prefix[number]
            if chosen not in candidates:
                raise NondeterministicRun(
                    f"choice point {number + 1}: the task to replay is not among the candidates: the run "
                    "does not follow from its choices alone"
                )
            index = candidates.index(chosen)
            asleep = frozenset(self._sleep)
            self._sleep.update(self.asleep_at[number])
        else:
            asleep = frozenset(self._sleep)
            index = next((i for i, owner in enumerate(candidates) if owner not in self._sleep), -1)
            if index < 0:
                self._block()
                index = 0
            elif index and self.max_deviations is not None and self.deviations >= self.max_deviations:
                self.over_bound = True
                self._block()
            chosen = candidates[index]
        if index:
            self.deviations += 1
        self.points.append(Point(candidates=candidates, chosen=chosen, asleep=asleep, step=-1))
        self._picked = (number, chosen)
        return index

    # -- internals

    def _see_last(self) -> None:
        """Wake the sleepers the last step depends on (once per step)."""
        last = len(self.steps) - 1
        if last == self._checked or last < 0:
            return
        self._checked = last
        sleep = self._sleep
        if sleep:
            done = self.steps[last].accesses
            for owner in [owner for owner, first in sleep.items() if dependent(first, done)]:
                del sleep[owner]

    def _block(self) -> None:
        if not self.blocked:
            self.blocked = True
            self.stop()

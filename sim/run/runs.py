"""The live records of a run: a run, the thread it runs in, its tokens, how it ends.

A *run* is one person's pass through one campaign's flow. A *thread* is one kernel task's
stack of runs: a top run and the executables it awaits inside it (R6). Both are the
engine's (`sim.run.engine`); steps (`sim.run.steps`) and observers (`sim.run.observer`)
read them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from sim.run.kernel import Sleeper
from sim.run.queue import CampaignQueue, Waiting
from sim.scenario import model
from sim.scenario.model import Campaign
from sim.scenario.people import Person

#: The (1-based step index, step kind) that produced an activity; None outside a flow.
At = tuple[int, str] | None


class RunEnded(Exception):
    """Unwinds a run's task early; the top run catches it."""

    activity = "run_stopped"

    def details(self) -> dict[str, Any]:
        return {}


class RunRemoved(RunEnded):
    """Remove from Flow reached this run's task (R11)."""

    activity = "run_removed"

    def __init__(self, by: int | None) -> None:
        super().__init__(by)
        self.by = by

    def details(self) -> dict[str, Any]:
        return {"by_run": self.by}


class BudgetExhausted(RunEnded):
    """The person ran out of steps: a runaway cascade, most likely."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        self.budget = budget

    def details(self) -> dict[str, Any]:
        steps = "step" if self.budget == 1 else "steps"
        return {"reason": f"step budget of {self.budget} {steps} per person used up"}


@attrs.define(eq=False)
class Thread:
    """One task's stack of runs: a top run and the executables running inside it.

    Removing any run in the stack ends them all (R11), so the flag lives here.
    """

    sleeper: Sleeper = attrs.field(factory=Sleeper)
    removed_by: int | None = None
    removed: bool = False
    #: The campaign queue the top run belongs to (None: no queue model), and whether
    #: the thread holds one of its workers now (not while in a Wait, R15).
    queue: CampaignQueue | None = None
    holding: bool = False
    #: The top run's queue entry while it waits for its first worker.
    waiting: Waiting | None = None


@attrs.frozen(kw_only=True)
class Tokens(Mapping[str, str]):
    """A run's tokens (R10): its program's {{my.x}} and, for a triggered run, the
    triggering activity's attributes as {{trigger.x}}, read from the activity when a
    token is used rather than copied for every run."""

    my: Mapping[str, str]
    trigger: Mapping[str, Any] = attrs.field(factory=dict)

    def __getitem__(self, key: str) -> str:
        if key.startswith("trigger."):
            name = key[8:]
            if name in self.trigger:
                return show_value(self.trigger[name])
            raise KeyError(key)
        return self.my[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.my
        for name in self.trigger:
            yield f"trigger.{name}"

    def __len__(self) -> int:
        return len(self.my) + len(self.trigger)


@attrs.define(eq=False)
class Run:
    """One person's pass through one campaign's flow."""

    id: int
    campaign: Campaign
    person: Person
    thread: Thread
    parent_id: int | None  # executing parent or requesting run
    tokens: Mapping[str, str]
    depth: int = 0  # 0 for a top run; executables nest below (R8)
    admitted: float = 0.0
    #: The (1-based) step the run is at; 0 before its first (for race reports).
    step: int = 0


def show_value(value: object) -> str:
    """A value as a token shows it: the empty value as nothing."""
    return "" if value is None else str(value)


@attrs.define(eq=False)
class WebhookCall:
    """A Call Webhook step's response, due on its own after the webhook's latency (R16)."""

    run: Run
    action: model.CallWebhook
    at: At

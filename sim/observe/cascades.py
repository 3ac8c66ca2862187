"""End-to-end latency: from a cascade's first run to the end of its last.

A person's form fill may start one run that does everything (executables, R6, run inside
it), or a chain of runs each requesting the next (R5): four runs, each with its own wait
for a worker. Per-campaign latency cannot compare the two; the cascade's can. A cascade
is a top run that no run requested, with every run requested from it, directly or down
a chain; its end-to-end latency runs from the first run's admission to the end of the
last run in it. A trigger fired by a flow's own change (a Data Value Changes trigger,
say) starts a cascade of its own: it is not a request. Cascades whose first run was
admitted before the warm-up cut, or that are still going at the end, have no sample.
"""

from __future__ import annotations

from array import array

import attrs

from sim.run.observer import Observer
from sim.run.runs import Run


@attrs.define(eq=False, slots=True)
class _Cascade:
    campaign: str
    admitted: float
    in_flight: int = 0


@attrs.define(eq=False)
class Cascades(Observer):
    """Collects end-to-end latencies of cascades, by the campaign of their first run."""

    warmup: float = 0.0
    #: First run's campaign -> end-to-end latency of each cascade that ended.
    latency: dict[str, array[float]] = attrs.field(factory=dict, init=False)
    #: Run id -> its cascade, for runs in flight.
    _cascade_of: dict[int, _Cascade] = attrs.field(factory=dict, init=False)

    def admitted(self, run: Run, via: str, cause: int | None) -> None:
        parent = run.parent_id
        cascade = self._cascade_of.get(parent) if parent is not None else None
        if cascade is None:
            cascade = _Cascade(campaign=run.campaign.name, admitted=run.admitted)
        cascade.in_flight += 1
        self._cascade_of[run.id] = cascade

    def run_ended(self, run: Run, priority: str, latency: float) -> None:
        cascade = self._cascade_of.pop(run.id, None)
        if cascade is None:
            return
        cascade.in_flight -= 1
        if cascade.in_flight or cascade.admitted < self.warmup:
            return
        samples = self.latency.get(cascade.campaign)
        if samples is None:
            samples = self.latency[cascade.campaign] = array("d")
        samples.append(round(run.admitted + latency - cascade.admitted, 6))

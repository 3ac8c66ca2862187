"""Guarantee 7, conservation (R15, R16, R17): nothing the scenario does goes missing.

Every run that starts ends once or is still waiting at the end; every external activity
and generator arrival is logged once, at its time, with the people it creates; external
writes land; each webhook call gets its response; the summary counts what the log holds.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from sim.run.activity import RUN_ENDINGS, RUN_STARTED, Activity
from sim.run.arrivals import arrival_times, external_activities, new_arrivals
from sim.scenario.people import Person, is_generated_id
from sim.scenario.units import later
from sim.verify.guarantees.log import Log, Report, Violation, is_write_back, reporter
from sim.verify.guarantees.replay import Probe, Replay, probed
from sim.verify.guarantees.timing import parked_past_end, webhook_latencies


def check_conservation(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """Every run that starts ends once or is still waiting at the end (for a worker too,
    R22); every external
    activity of the scenario is in the log; the summary counts what the log holds."""
    bad = reporter("conservation", "R15, R16, R17")
    out: list[Violation] = []
    in_progress: Counter[str] = Counter()
    queued = log.scenario.queue is not None
    for record in log.runs.values():
        if record.skipped or record.endings or not record.started:
            continue  # (one still waiting for its first worker is not in progress, R22)
        in_progress[record.campaign] += 1
        task = log.tasks[record.top]
        last = task[-1]
        # With a queue, a run may be in a step's service or waiting for a worker (R22).
        if not queued and not parked_past_end(log, last):
            out.append(bad("a run that never ended and is not waiting past the end", record.first, last))
    out.extend(_check_external(log, bad))
    out.extend(probed(log, replayed, Writes).violations())
    out.extend(_check_webhooks(log, bad))
    summary = log.summary
    if summary is not None:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for activity in log.activities:
            if activity.type in (RUN_STARTED, *RUN_ENDINGS) and activity.campaign is not None:
                counts[activity.campaign][activity.type] += 1
        for name, tally in summary.campaigns.items():
            c = counts[name]
            logged = (c["run_started"], c["run_completed"], c["run_skipped"], c["run_removed"], c["run_stopped"])
            told = (tally.started, tally.completed, tally.skipped, tally.removed, tally.stopped)
            if logged != told or tally.in_progress != in_progress[name]:
                out.append(bad(f'the summary of "{name}" says {told} runs, the log {logged}'))
    return out


def _check_external(log: Log, bad: Report) -> list[Violation]:
    """Each timed activity (CSV rows too) and generator arrival before the end is logged
    once, at its time; so is each person they create, and no other."""
    scenario = log.scenario
    end = scenario.duration
    expected: Counter[tuple[float, str, str, str]] = Counter()
    declared = {person.id for person in scenario.people}
    created: Counter[tuple[float, str]] = Counter()  # (time, id) of people timed form fills create
    known: set[str] = set()
    for item in external_activities(scenario):
        if item.at >= end:
            break
        if item.type != "change_data_value":  # a change logs only if it changes
            expected[item.at, item.person, item.type, _key(item.attributes)] += 1
        pid = item.person
        if pid not in declared and pid not in known and not is_generated_id(pid, scenario.population):
            known.add(pid)
            created[item.at, pid] += 1
    generated: Counter[tuple[float, str, str]] = Counter()
    new: Counter[float] = Counter()  # times at which new_people creates someone
    for index, generator in enumerate(scenario.generators):
        times = arrival_times(generator, seed=scenario.seed, index=index, end=end)
        for due, is_new in zip(times, new_arrivals(generator, seed=scenario.seed, index=index), strict=False):
            if generator.type != "change_data_value":
                generated[due, generator.type, _key(generator.attributes)] += 1
            new[due] += is_new
    out: list[Violation] = []
    number = 1  # new_people's people are new1, new2, ... in the order they are created
    for activity in log.activities:
        if activity.type != "person_created" or activity.run is not None:
            continue
        if created[activity.time, activity.person]:
            created[activity.time, activity.person] -= 1
        elif new[activity.time] and activity.person == f"new{number}":
            new[activity.time] -= 1
            number += 1
        else:
            out.append(bad("a person created that the scenario does not create (or not then)", activity))
    for at, pid in +created:
        out.append(bad(f"{pid}, created by a form fill at t={at:g}, was never created"))
    for at, count in (+new).items():
        out.append(bad(f"{count} new people (new_people) due at t={at:g} were never created"))
    logged = [a for a in log.activities if a.run is None and a.type not in ("change_data_value", "person_created")]
    for activity in logged:
        key = (activity.time, activity.person, activity.type, _key(activity.details))
        if expected[key]:
            expected[key] -= 1
        elif generated[activity.time, activity.type, key[3]]:
            generated[activity.time, activity.type, key[3]] -= 1
        else:
            out.append(bad("an external activity that the scenario does not have", activity))
    for (at, person, type_, attributes), count in (+expected).items():
        out.append(bad(f"{count} timed {type_} activity for {person} at t={at:g} {attributes} is missing"))
    for (at, type_, attributes), count in (+generated).items():
        out.append(bad(f"{count} generated {type_} activity at t={at:g} {attributes} is missing"))
    return out


class Writes(Probe):
    """External field writes land: a timed change, and the fields a form fill writes.

    A write that changes nothing logs nothing, so each is checked on the replayed state:
    the field holds the written value at some point of its time (a timed change), or just
    before its ``fill_out_form`` (a form's fields; a generator's come from its values).
    """

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.bad = reporter("conservation", "R15, R16, R17")
        scenario = log.scenario
        times = [activity.time for activity in log.activities]
        timed = [a for a in external_activities(scenario) if a.type in ("change_data_value", "fill_out_form")]
        self.changes = [a for a in timed if a.type == "change_data_value" and a.at < scenario.duration]
        #: position -> the changes that may land there
        self.windows: dict[int, list[int]] = defaultdict(list)
        for number, item in enumerate(self.changes):
            for position in range(bisect.bisect_left(times, item.at), bisect.bisect_right(times, item.at) + 1):
                self.windows[position].append(number)
        self.landed: set[int] = set()
        self.timed_fills: dict[tuple[float, str, str], list[Mapping[str, Any]]] = defaultdict(list)
        for item in timed:
            if item.type == "fill_out_form":
                self.timed_fills[item.at, item.person, _key(item.attributes)].append(item.fields)
        self.generated = [g for g in scenario.generators if g.type == "fill_out_form"]
        self.found: list[Violation] = []

    def before(self, index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        for number in self.windows.get(index, ()):
            item = self.changes[number]
            if item.person not in people:
                continue  # not created yet (a form fill at the same time creates them)
            value = people[item.person].fields.get(str(item.attributes["field"]))
            if value == item.attributes["value"] and type(value) is type(item.attributes["value"]):
                self.landed.add(number)
        if activity is None or activity.run is not None or activity.type != "fill_out_form":
            return
        if activity.person not in people:
            return  # reported by the replay: an activity of an unknown person
        fields = people[activity.person].fields
        written = self.timed_fills.get((activity.time, activity.person, _key(activity.details)), [])
        if any(all(fields.get(f) == v and type(fields.get(f)) is type(v) for f, v in w.items()) for w in written):
            return
        drawn = [g for g in self.generated if _key(g.attributes) == _key(activity.details)]
        if any(all(fields.get(f) in values for f, values in g.fields.items()) for g in drawn):
            return
        if written or any(g.fields for g in drawn):
            self.found.append(self.bad("a form fill's fields were not written before it", activity))

    def violations(self) -> list[Violation]:
        """The form fills found unwritten during the replay, then the changes that never landed."""
        out = list(self.found)
        for number, item in enumerate(self.changes):
            if number not in self.landed:
                field, value = item.attributes["field"], item.attributes["value"]
                out.append(
                    self.bad(
                        f"the external change of {field} to {value!r} for {item.person} at t={item.at:g} never landed"
                    )
                )
        return out


def _check_webhooks(log: Log, bad: Report) -> list[Violation]:
    """Each webhook call gets one response at its latency unless that is past the end, and
    its mappings write fields only after a 2xx response (R16)."""
    out: list[Violation] = []
    responses: dict[tuple[int | None, int | None], list[Activity]] = defaultdict(list)
    last_response: dict[tuple[int | None, int | None], Activity] = {}
    for activity in log.activities:
        key = (activity.run, activity.step)
        if activity.type == "webhook_response":
            responses[key].append(activity)
            last_response[key] = activity
        elif is_write_back(activity):
            response = last_response.get(key)
            if response is None or not 200 <= int(response.details.get("status", 0)) < 300:
                out.append(bad("a webhook wrote a field without a 2xx response before it (R16)", activity))
    for activity in log.activities:
        if activity.type != "call_webhook":
            continue
        latencies = webhook_latencies(log, activity)
        got = responses.get((activity.run, activity.step), [])
        due = [later(activity.time, latency) for latency in latencies]
        if len(got) > 1:
            out.append(bad(f"a webhook call got {len(got)} responses", activity, *got))
        elif got and got[0].time not in due:
            out.append(bad(f"a webhook response came at t={got[0].time:g}, not at {due}", activity, got[0]))
        elif not got and not any(time >= log.scenario.duration for time in due):
            out.append(bad("a webhook call whose response was due before the end never got one", activity))
    return out


def _key(attributes: Mapping[str, Any]) -> str:
    return repr(sorted(attributes.items()))

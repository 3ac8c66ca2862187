"""The [[load]] of a scenario (sim/run/arrivals.py): arrival times of generators (evenly spaced,
a Poisson process, a daily profile), new people created by form fills, and CSV replays."""

from __future__ import annotations

import itertools
import math
import statistics
import tempfile
import time
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

import attrs
import pytest
from hypothesis import given

from sim.observe.report import format_summary
from sim.run.activity import Activity
from sim.run.arrivals import arrival_times, new_arrivals
from sim.scenario import load_scenario, parse_scenario
from sim.scenario.dump import dump_activities_csv, dump_scenario
from sim.scenario.model import ExternalActivity, Generator, Replay, Scenario
from sim.testing import run_scenario, run_text, simulate
from sim.verify.guarantees import Log, check_conservation, check_guarantees
from sim.verify.strategies import scenarios, seeds

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def times(generator: Generator, *, seed: int = 0, index: int = 0, end: float = 3600.0) -> list[float]:
    return list(arrival_times(generator, seed=seed, index=index, end=end))


def test_constant_arrivals_are_evenly_spaced_on_the_microsecond_grid() -> None:
    assert times(Generator(type="visit_page", rate=10 / 3600)) == [i * 360.0 for i in range(10)]
    # 13 a minute over one minute is 13 arrivals, not a 14th at 59.99999999999999
    assert len(times(Generator(type="visit_page", rate=13 / 60), end=60.0)) == 13


def test_start_stop_and_end_bound_the_arrivals() -> None:
    constant = Generator(type="visit_page", rate=1 / 60, start=600.0, stop=900.0)
    assert times(constant) == [600.0, 660.0, 720.0, 780.0, 840.0]
    poisson = attrs.evolve(constant, arrivals="poisson")
    got = times(poisson, end=800.0)
    assert got and all(600.0 < t < 800.0 for t in got)
    assert times(attrs.evolve(constant, rate=0.0)) == []


def test_poisson_arrivals_are_a_function_of_seed_and_position() -> None:
    poisson = Generator(type="visit_page", rate=1.0, arrivals="poisson")
    assert times(poisson, seed=1, index=0) == times(poisson, seed=1, index=0)
    assert times(poisson, seed=1, index=0) != times(poisson, seed=2, index=0)
    assert times(poisson, seed=1, index=0) != times(poisson, seed=1, index=1)
    got = times(poisson, seed=1)
    assert got == sorted(got) and all(round(t, 6) == t for t in got)


def test_poisson_arrivals_have_the_rate_and_exponential_gaps() -> None:
    """20,000 an hour over 10 hours: the count is within 4 standard deviations of 200,000
    (sqrt(200,000) = 447), and the gaps' mean and standard deviation are both 1/rate
    within 1% (an exponential's are equal), for this seed."""
    rate = 20000 / 3600
    got = times(Generator(type="fill_out_form", rate=rate, arrivals="poisson"), seed=7, end=36000.0)
    assert abs(len(got) - 200_000) < 4 * math.sqrt(200_000)
    gaps = [b - a for a, b in pairwise(got)]
    assert statistics.fmean(gaps) == pytest.approx(1 / rate, rel=0.01)
    assert statistics.stdev(gaps) == pytest.approx(1 / rate, rel=0.01)


POISSON = """
[sim]
duration = "1h"

[people]
count = 3

[campaigns.Visit]
qualification = "every time"
triggers = [{ trigger = "visits_page" }]
flow = [{ step = "send_email", email = "Thanks" }]

[[load]]
type = "visit_page"
page = "/pricing"
rate = "60/h"
arrivals = "poisson"
"""


def test_a_poisson_generator_runs_and_the_log_holds_every_arrival() -> None:
    """The engine and the conservation check compute the same arrivals, and a lost one is
    reported."""
    result = simulate(parse_scenario(POISSON), seed=3)
    visits = [a for a in result.activities if a.type == "visit_page"]
    expected = times(result.scenario.generators[0], seed=3, end=3600.0)
    assert [a.time for a in visits] == expected
    assert any(t != round(t) for t in expected)  # not the constant grid
    log = Log.of(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert check_conservation(log) == []
    lost = [a for a in result.activities if a is not visits[0]]
    messages = [v.message for v in check_conservation(Log.of(result.scenario, lost))]
    assert f"1 generated visit_page activity at t={visits[0].time:g} [('page', '/pricing')] is missing" in messages


def daily(*rates_per_hour: float) -> tuple[float, ...]:
    """A daily profile from per-hour rates of the first hours (the rest of the day 0)."""
    return tuple(r / 3600 for r in rates_per_hour) + (0.0,) * (24 - len(rates_per_hour))


def test_a_daily_profile_changes_the_rate_on_the_hour() -> None:
    """Hour 0 at 2/h, hour 1 silent, hour 2 at 4/h: constant arrivals restart each hour."""
    profile = daily(2, 0, 4)
    constant = Generator(type="visit_page", rate=sum(profile) / 24, daily=profile)
    assert times(constant, end=3 * 3600.0) == [0.0, 1800.0, 7200.0, 8100.0, 9000.0, 9900.0]
    # the next day repeats the profile
    assert times(constant, end=86400.0 + 3600.0)[-2:] == [86400.0, 88200.0]
    late = attrs.evolve(constant, start=600.0)
    assert times(late, end=2 * 3600.0) == [600.0, 2400.0]


def test_a_daily_poisson_profile_follows_each_hours_rate() -> None:
    """Hour 0 at 3,600/h and hour 2 at 7,200/h, the rest silent: over two days nothing
    arrives in a silent hour, and each busy hour's count is within 4 standard deviations
    of its rate."""
    profile = daily(3600, 0, 7200)
    poisson = Generator(type="visit_page", rate=sum(profile) / 24, arrivals="poisson", daily=profile)
    got = times(poisson, seed=5, end=2 * 86400.0)
    hours = [int(t // 3600) % 24 for t in got]
    assert set(hours) == {0, 2}
    for day in (0, 1):
        for hour, rate in ((0, 3600), (2, 7200)):
            count = sum(1 for t in got if int(t // 3600) == day * 24 + hour)
            assert abs(count - rate) < 4 * math.sqrt(rate)


def test_a_daily_profile_runs_and_keeps_every_guarantee() -> None:
    hours = ", ".join(['"30/h"'] * 2 + ['"0/h"'] * 22)
    text = POISSON.replace('rate = "60/h"', f"daily = [{hours}]").replace('duration = "1h"', 'duration = "1d"')
    result = simulate(parse_scenario(text), seed=4)
    visits = [a.time for a in result.activities if a.type == "visit_page"]
    assert visits and max(visits) < 7200.0
    assert visits == times(result.scenario.generators[0], seed=4, end=86400.0)
    found = check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert found == []


# --- new people: a form fill by an unknown visitor creates a lead ----------------------------

NEW_PEOPLE = """
[sim]
duration = "1h"

[fields]
country = { values = ["US", "DE"] }
job_title = ""

[[person]]
id = "ann"

[campaigns.Welcome]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "send_email", email = "Welcome" }]

[[load]]
type = "fill_out_form"
form = "Webinar"
rate = "4/h"
new_people = 0.5
fields = { job_title = "CMO" }
"""


def external(activities: Iterable[Activity]) -> list[tuple[float, str, str, dict[str, object]]]:
    """The activities outside runs, and the emails the runs send: (time, person, type, details)."""
    return [(a.time, a.person, a.type, dict(a.details)) for a in activities if a.run is None or a.type == "send_email"]


def test_new_people_are_created_before_their_form_writes_its_fields() -> None:
    """Arrivals 1 and 3 (of 4, for seed 0) are new visitors: each is created as new1, new2
    with drawn and default fields, logged before the form's writes; the others are drawn
    from everyone known then, new1 included."""
    activities = run_text(NEW_PEOPLE, strategy="fifo", seed=0)
    created = {"via": "fill_out_form", "fields": {"country": "US", "job_title": "", "score": 0}}
    cmo = {"field": "job_title", "old_value": "", "new_value": "CMO", "source": "form"}
    webinar = {"form": "Webinar"}
    welcome = {"email": "Welcome"}
    assert external(activities) == [
        (0.0, "new1", "person_created", created),
        (0.0, "new1", "change_data_value", cmo),
        (0.0, "new1", "fill_out_form", webinar),
        (0.0, "new1", "send_email", welcome),
        (900.0, "new1", "fill_out_form", webinar),  # a known person now: no new field value
        (900.0, "new1", "send_email", welcome),
        (1800.0, "new2", "person_created", created),
        (1800.0, "new2", "change_data_value", cmo),
        (1800.0, "new2", "fill_out_form", webinar),
        (1800.0, "new2", "send_email", welcome),
        (2700.0, "ann", "change_data_value", cmo),
        (2700.0, "ann", "fill_out_form", webinar),
        (2700.0, "ann", "send_email", welcome),
    ]
    result = simulate(parse_scenario(NEW_PEOPLE), seed=0, strategy="fifo")
    assert set(result.people) == {"ann", "new1", "new2"}
    assert result.summary.people == 3
    assert result.summary.activities["person_created"] == 2
    assert "3 people (2 created by form fills)" in format_summary(result.summary)


def test_which_arrivals_are_new_is_its_own_stream() -> None:
    """new_arrivals is a function of the generator's seed and position only, with the share
    of new ones near new_people; without new_people, nobody is new."""
    generator = Generator(type="fill_out_form", rate=1.0, new_people=0.25)
    first = list(itertools.islice(new_arrivals(generator, seed=1, index=0), 10_000))
    assert first == list(itertools.islice(new_arrivals(generator, seed=1, index=0), 10_000))
    assert first != list(itertools.islice(new_arrivals(generator, seed=1, index=1), 10_000))
    assert abs(sum(first) - 2500) < 4 * math.sqrt(10_000 * 0.25 * 0.75)
    assert not any(itertools.islice(new_arrivals(attrs.evolve(generator, new_people=0.0), seed=1, index=0), 100))
    assert all(itertools.islice(new_arrivals(attrs.evolve(generator, new_people=1.0), seed=1, index=0), 100))


@pytest.mark.parametrize("seed", range(12))
def test_arrivals_pick_from_everyone_known_at_that_moment(seed: int) -> None:
    """Each arrival that is not new is for a person declared or created earlier in the log;
    the log keeps every guarantee, the conservation of created people included."""
    text = NEW_PEOPLE.replace('rate = "4/h"', 'rate = "60/h"\narrivals = "poisson"')
    result = simulate(parse_scenario(text), seed=seed)
    known = {"ann"}
    for activity in result.activities:
        if activity.type == "person_created":
            assert activity.person not in known
            known.add(activity.person)
        assert activity.person in known, activity
    new = [a.person for a in result.activities if a.type == "person_created"]
    assert new == [f"new{n}" for n in range(1, len(new) + 1)]
    assert check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people) == []


def test_created_people_come_back() -> None:
    """Over a few seeds, some arrival that is not new is for a person created at an earlier
    arrival: the population the arrivals draw from grows as visitors become leads."""
    text = NEW_PEOPLE.replace('rate = "4/h"', 'rate = "60/h"')
    returns = 0
    for seed in range(5):
        created: dict[str, float] = {}
        for activity in run_text(text, seed=seed, strategy="fifo"):
            if activity.type == "person_created":
                created[activity.person] = activity.time
            elif activity.type == "fill_out_form" and created.get(activity.person, activity.time) < activity.time:
                returns += 1
    assert returns > 0


def test_a_lost_or_altered_creation_is_reported() -> None:
    result = simulate(parse_scenario(NEW_PEOPLE), seed=0, strategy="fifo")
    log = list(result.activities)
    first = next(a for a in log if a.type == "person_created")
    lost = [a for a in log if a is not first]
    found = [str(v) for v in check_guarantees(result.scenario, lost, summary=result.summary, people=result.people)]
    assert any("an activity of an unknown person" in v for v in found)
    assert any("new people (new_people) due at t=0 were never created" in v for v in found)
    renamed = [attrs.evolve(a, person="new7") if a is first else a for a in log]
    found = [str(v) for v in check_conservation(Log.of(result.scenario, renamed))]
    assert any("a person created that the scenario does not create" in v for v in found)
    other = {"via": "fill_out_form", "fields": {"country": "DE", "job_title": "", "score": 0}}
    altered = [attrs.evolve(a, details=other) if a is first else a for a in log]
    found = [str(v) for v in check_guarantees(result.scenario, altered, people=result.people)]
    assert any("replaying the log gives new1" in v for v in found)


def test_a_table_of_new_visitors_only_needs_no_people() -> None:
    text = NEW_PEOPLE.replace('[[person]]\nid = "ann"\n', "").replace("new_people = 0.5", "new_people = 1")
    result = simulate(parse_scenario(text), seed=2, strategy="fifo")
    assert [a.person for a in result.activities if a.type == "fill_out_form"] == ["new1", "new2", "new3", "new4"]
    assert check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people) == []


# --- CSV replay ---------------------------------------------------------------------------

REPLAY = """
[sim]
duration = "1h"

[fields]
job_title = ""
employees = 0

[[person]]
id = "ann"

[campaigns.Welcome]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "send_email", email = "Welcome" }]

[campaigns.Pricing]
triggers = [{ trigger = "clicks_link", link = "/pricing" }]
flow = [{ step = "send_alert", alert = "Pricing", to = "sales@example.com" }]

[[activities]]
at = "2m"
person = "ann"
type = "click_link"
link = "/pricing"

[[load]]
csv = "fills.csv"
"""

FILLS = """\
time,person,activity,form,link,field,value,field.job_title,field.employees
4m,ann,change_data_value,,,employees,250,,
60,ann,fill_out_form,Demo,,,,,
2m,lena,fill_out_form,Demo,,,,Engineer,12
3m,lena,click_link,,/pricing,,,,
"""


def write_replay(folder: Path, scenario: str = REPLAY, rows: str = FILLS) -> Path:
    (folder / "fills.csv").write_text(rows, encoding="utf-8")
    path = folder / "replay.toml"
    path.write_text(scenario, encoding="utf-8")
    return path


def test_a_csv_replay_runs_its_rows_in_time_order(tmp_path: Path) -> None:
    """Rows out of order are sorted; at 2m the [[activities]] click comes before the CSV's
    fill; lena, unknown, is created by her form fill, and her later click is hers."""
    activities = run_scenario(load_scenario(write_replay(tmp_path)), strategy="fifo")
    created = {"via": "fill_out_form", "fields": {"job_title": "", "employees": 0, "score": 0}}
    assert external(activities) == [
        (60.0, "ann", "fill_out_form", {"form": "Demo"}),
        (60.0, "ann", "send_email", {"email": "Welcome"}),
        (120.0, "ann", "click_link", {"link": "/pricing"}),
        (120.0, "lena", "person_created", created),
        (
            120.0,
            "lena",
            "change_data_value",
            {"field": "job_title", "old_value": "", "new_value": "Engineer", "source": "form"},
        ),
        (120.0, "lena", "change_data_value", {"field": "employees", "old_value": 0, "new_value": 12, "source": "form"}),
        (120.0, "lena", "fill_out_form", {"form": "Demo"}),
        (120.0, "lena", "send_email", {"email": "Welcome"}),
        (180.0, "lena", "click_link", {"link": "/pricing"}),
        (
            240.0,
            "ann",
            "change_data_value",
            {"field": "employees", "old_value": 0, "new_value": 250, "source": "external"},
        ),
    ]
    assert [a.person for a in activities if a.type == "send_alert"] == ["ann", "lena"]


def test_a_csv_replay_keeps_every_guarantee_and_a_lost_row_is_reported(tmp_path: Path) -> None:
    result = simulate(load_scenario(write_replay(tmp_path)), seed=5)
    assert check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people) == []
    click = next(a for a in result.activities if a.type == "click_link" and a.person == "lena")
    lost = [a for a in result.activities if a is not click]
    messages = [v.message for v in check_conservation(Log.of(result.scenario, lost))]
    assert "1 timed click_link activity for lena at t=180 [('link', '/pricing')] is missing" in messages
    write = next(a for a in result.activities if a.type == "change_data_value" and a.details["new_value"] == 250)
    unwritten = [a for a in result.activities if a is not write]
    messages = [v.message for v in check_conservation(Log.of(result.scenario, unwritten))]
    assert "the external change of employees to 250 for ann at t=240 never landed" in messages


def test_a_replay_is_held_as_columns(tmp_path: Path) -> None:
    """Rows that share a type, attributes and fields share one template."""
    rows = "time,person,activity,form\n" + "".join(f"{i},ann,fill_out_form,{'AB'[i % 2]}\n" for i in range(1000))
    replay = load_scenario(write_replay(tmp_path, rows=rows)).replays[0]
    assert len(replay) == 1000
    assert [t.attributes for t in replay.templates] == [{"form": "A"}, {"form": "B"}]
    assert replay.csv == str((tmp_path / "fills.csv").resolve())
    again = Replay.of(replay.csv, replay.activities())
    assert again == replay


# --- a CSV replay of the [[activities]] is the same load ---------------------------------------


@given(scenario=scenarios(), seed=seeds())
def test_a_csv_replay_of_the_activities_gives_the_same_log(scenario: Scenario, seed: int) -> None:
    """Any generated design: its [[activities]] written as a CSV file (dump_activities_csv)
    and replayed with [[load]] csv = ... give the same log, activity for activity."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "activities.csv").write_text(dump_activities_csv(scenario.activities), encoding="utf-8")
        text = dump_scenario(attrs.evolve(scenario, activities=())) + '\n[[load]]\ncsv = "activities.csv"\n'
        replayed = parse_scenario(text, source=str(Path(folder, "replay.toml")))
    assert len(replayed.replays[0]) == len(scenario.activities)
    assert run_scenario(replayed, seed=seed) == run_scenario(scenario, seed=seed)


def test_a_lone_carriage_return_in_a_cell_is_quoted_and_read_back(tmp_path: Path) -> None:
    """The csv module leaves a lone CR bare when lines end in "\\n"; the loader would then
    split the row there. dump_activities_csv and sim import's replay share one writer."""
    scenario = parse_scenario(REPLAY.split("[[load]]")[0], source=str(tmp_path / "replay.toml"))
    visit = ExternalActivity(at=1.0, person="ann", type="visit_page", attributes={"page": "/a\rb"})
    text = dump_activities_csv([visit])
    assert text == 'time,person,activity,page\n1.0,ann,visit_page,"/a\rb"\n'
    (tmp_path / "activities.csv").write_text(text, encoding="utf-8")
    replayed = parse_scenario(
        dump_scenario(scenario) + '\n[[load]]\ncsv = "activities.csv"\n', source=str(tmp_path / "replay.toml")
    )
    assert list(replayed.replays[0].activities()) == [visit]


def test_a_replay_and_new_people_round_trip_through_a_file(tmp_path: Path) -> None:
    loaded = load_scenario(
        write_replay(tmp_path, REPLAY + NEW_PEOPLE.split("[campaigns.Welcome]")[1].split("\n\n", 1)[1])
    )
    assert loaded.generators[0].new_people == 0.5
    back = parse_scenario(dump_scenario(loaded), source=loaded.source)
    assert (back.replays, back.generators, back.activities) == (loaded.replays, loaded.generators, loaded.activities)


@pytest.mark.slow
def test_a_million_csv_rows_load_in_seconds(tmp_path: Path) -> None:
    """Measured about 2 s for `sim check` on this project's 2-core machine (the bound
    leaves room for a slow CI); each distinct person and row shape is held once."""
    with (tmp_path / "fills.csv").open("w", encoding="utf-8") as out:
        out.write("time,person,activity,form,link\n")
        for i in range(1_000_000):
            # Form fills by three visitors (the first creates each) and clicks by ann.
            out.write(f"{i * 0.5},v{i % 3},fill_out_form,Demo,\n" if i % 2 else f"{i * 0.5},ann,click_link,,/x\n")
    started = time.perf_counter()
    (tmp_path / "replay.toml").write_text(REPLAY, encoding="utf-8")
    replay = load_scenario(tmp_path / "replay.toml").replays[0]
    assert time.perf_counter() - started < 20
    assert len(replay) == 1_000_000
    assert len(replay.templates) == 2
    assert len({id(person) for person in replay.people}) == 4


@pytest.mark.parametrize("seed", range(4))
def test_the_form_fills_example_creates_people_from_its_csv_and_its_rate(seed: int) -> None:
    """examples/form-fills.toml: lena and omar, unknown to the file, are created by their
    CSV form fills; new visitors by the rate table; every guarantee holds."""
    result = simulate(load_scenario(EXAMPLES / "form-fills.toml"), seed=seed)
    created = [a.person for a in result.activities if a.type == "person_created"]
    assert {"lena@example.com", "omar@example.com"} <= set(created)
    assert result.summary.people == 20 + len(created)
    assert check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people) == []


def test_a_csv_replay_that_is_no_text_file_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    """/dev/zero has no newline: each line is read with a bound (1 MB). A file that cannot
    be read is a problem at its line, not an output error."""
    from sim.scenario import ScenarioError, load_scenario

    base = (
        '[people]\ncount = 1\n[campaigns.C]\ntriggers = [{ trigger = "fills_out_form" }]\n'
        'flow = [{ step = "send_email", email = "E" }]\n[[load]]\ncsv = "CSV"\n'
    )
    for csv, message in (
        ("/dev/zero", "a line longer than 1 MB: not a CSV export"),
        ("/proc/self/mem", "cannot read: Input/output error"),
    ):
        (tmp_path / "s.toml").write_text(base.replace("CSV", csv), encoding="utf-8")
        with pytest.raises(ScenarioError) as info:
            load_scenario(tmp_path / "s.toml")
        (problem,) = info.value.problems
        assert problem.file == f"{csv}:1" and problem.message.startswith(message)

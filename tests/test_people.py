"""Making people: explicit ones first, then p1..pN drawn from the field distributions."""

from __future__ import annotations

from collections import Counter

from sim.scenario import parse_scenario
from sim.scenario.people import make_people

TEXT = """
lists = ["Hot"]

[sim]
seed = {seed}

[fields]
country = {{ values = ["US", "DE"], weights = [3, 1] }}
stage = "Known"

[people]
count = 4000

[[person]]
id = "ann"
fields = {{ country = "FR" }}
lists = ["Hot"]
"""


def test_explicit_people_first_then_generated_with_defaults_and_draws() -> None:
    people = make_people(parse_scenario(TEXT.format(seed=1)))
    ids = list(people)
    assert ids[:3] == ["ann", "p1", "p2"] and ids[-1] == "p4000"
    ann = people["ann"]
    assert ann.fields == {"country": "FR", "stage": "Known", "score": 0}
    assert ann.lists == {"Hot"}
    counts = Counter(p.fields["country"] for pid, p in people.items() if pid != "ann")
    assert set(counts) == {"US", "DE"}
    assert 0.70 < counts["US"] / 4000 < 0.80  # weights 3:1, 4,000 draws
    assert all(p.fields["stage"] == "Known" for p in people.values())


def test_the_same_seed_draws_the_same_people_and_another_seed_does_not() -> None:
    def countries(seed: int) -> list[object]:
        return [p.fields["country"] for p in make_people(parse_scenario(TEXT.format(seed=seed))).values()]

    assert countries(1) == countries(1)
    assert countries(1) != countries(2)


def test_a_large_population_reports_its_progress_and_its_end() -> None:
    """``progress`` is told every PROGRESS_EVERY people and once at the end, so a terminal
    shows a line while a million people are made and clears it after."""
    import attrs

    from sim.scenario.people import PROGRESS_EVERY

    scenario = attrs.evolve(parse_scenario(TEXT.format(seed=1)), population=2 * PROGRESS_EVERY + 5)
    told: list[tuple[int, int]] = []
    make_people(scenario, progress=lambda made, total: told.append((made, total)))
    total = 2 * PROGRESS_EVERY + 5
    assert told == [(PROGRESS_EVERY, total), (2 * PROGRESS_EVERY, total), (total, total)]
    told.clear()
    make_people(attrs.evolve(scenario, population=10), progress=lambda made, total: told.append((made, total)))
    assert told == []  # a small population: no line at all

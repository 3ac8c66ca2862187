"""Making people: explicit ones first, then p1..pN drawn from the field distributions."""

from __future__ import annotations

from collections import Counter

from sim.people import make_people
from sim.scenario import parse_scenario

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

"""[variants]: named changes laid over a scenario file, each read as a design of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario
from sim.scenario.loader import load_variants
from sim.scenario.read_variants import merged

BASE = """
[sim]
duration = "1h"
[fields]
score = 0
[people]
count = 5
[queue]
workers = 2
[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[campaigns.Other]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+2" }]
[[load]]
csv = "fills.csv"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "fills.csv").write_text("time,person,activity\n1m,p1,fill_out_form\n")
    return tmp_path


def test_a_variant_merges_tables_and_replaces_everything_else() -> None:
    base = {"queue": {"workers": 2, "service": {"default": "1s"}}, "lists": ["a"], "campaigns": {"A": {"flow": [1]}}}
    overlay = {"queue": {"workers": 8}, "lists": ["b"], "campaigns": {"A": {"flow": [2]}}}
    assert merged(base, overlay) == {
        "queue": {"workers": 8, "service": {"default": "1s"}},
        "lists": ["b"],
        "campaigns": {"A": {"flow": [2]}},
    }
    assert base["queue"] == {"workers": 2, "service": {"default": "1s"}}  # neither is changed


def test_each_variant_is_a_design_and_the_base_is_none(folder: Path) -> None:
    path = folder / "designs.toml"
    path.write_text(
        BASE + '[variants."one campaign".campaigns.Other]\nactive = false\n' + "[variants.wider.queue]\nworkers = 8\n"
    )
    designs = load_variants([path])
    assert list(designs) == ["one campaign", "wider"]
    assert [c.active for c in designs["one campaign"].campaigns.values()] == [True, False]
    assert designs["wider"].queue is not None and designs["wider"].queue.workers == 8
    assert designs["wider"].source == f"{path} [variant wider]"
    assert len(designs["wider"].replays[0]) == 1  # the CSV beside the file, whatever the variant's name
    # sim run and sim check read the file without its variants.
    assert load_scenario(path).queue.workers == 2  # type: ignore[union-attr]


def test_files_without_variants_are_named_by_their_stem(folder: Path) -> None:
    (folder / "a.toml").write_text(BASE)
    (folder / "sub").mkdir()
    (folder / "sub" / "a.toml").write_text(BASE.replace('"fills.csv"', '"../fills.csv"'))
    assert list(load_variants([folder / "a.toml", folder / "sub" / "a.toml"])) == ["a", "a (2)"]


def test_every_problem_of_every_variant_names_its_file_and_variant(folder: Path) -> None:
    path = folder / "bad.toml"
    path.write_text(
        BASE + "[variants.typo.queue]\nworkerz = 8\n[variants.ok]\n[variants.wrong.campaigns.Score]\nflow = 3\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_variants([path, folder / "missing.toml"])
    shown = [str(p) for p in caught.value.problems]
    assert shown[0] == f'{path} [variant typo]: [queue]: unknown key "workerz" in [queue]; did you mean "workers"?'
    assert shown[1] == f'{path} [variant wrong]: campaign "Score": "flow" must be an array, not an integer (3)'
    assert shown[2].startswith(f"{folder / 'missing.toml'}: cannot read")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("variants = 3\n", "[variants] must be a table of named variants, not an integer (3)"),
        ("[variants]\nchain = 3\n", "variants.chain: a variant must be a table of what it changes, not an integer"),
        ("[variants.a.variants.b]\n", "variants.a: a variant cannot have variants of its own"),
    ],
)
def test_a_malformed_variants_section_is_a_problem_for_sim_check_too(folder: Path, section: str, message: str) -> None:
    path = folder / "bad.toml"
    path.write_text(section + BASE)
    for load in (load_scenario, lambda p: load_variants([p])):
        with pytest.raises(ScenarioError) as caught:
            load(path)
        assert message in str(caught.value)

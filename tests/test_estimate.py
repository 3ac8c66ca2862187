"""Estimates before a run (sim.scenario.estimate): a population that cannot fit is refused with what
it needs; work that cannot finish in reasonable time is announced."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from sim.cli import main
from sim.scenario import estimate, load_scenario, parse_scenario
from sim.scenario.estimate import estimate_memory, estimate_work, memory_problem, work_warning

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "examples" / "lead-lifecycle.toml"


def test_a_person_costs_what_its_declared_fields_cost() -> None:
    """More fields, a bigger record; a batch that runs everyone adds a run per person."""
    few = parse_scenario('[fields]\na = ""\n[people]\ncount = 1\n')
    many = parse_scenario("[fields]\n" + "".join(f'f{i} = "x"\n' for i in range(40)) + "[people]\ncount = 1\n")
    assert estimate_memory(many).per_person > estimate_memory(few).per_person + 40 * 8
    scenario = load_scenario(DEFAULT)  # its nightly batch runs everyone
    memory = estimate_memory(scenario)
    assert memory.per_person >= 3_000  # measured: about 3.2 KB a person with these 7 fields
    assert 'a run of batch campaign "Nightly Nurture"' in memory.why


def test_a_population_that_cannot_fit_is_refused_with_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(estimate, "available_memory", lambda: (4 * 2**30, "the address-space limit (ulimit -v: 4 GB)"))
    scenario = attrs.evolve(load_scenario(DEFAULT), population=2_000_000)
    problem = memory_problem(scenario)
    assert problem is not None
    assert problem.startswith("2,000,000 people need about 6.")
    assert "but the address-space limit (ulimit -v: 4 GB) leaves 4.0 GB; about 1," in problem
    assert memory_problem(attrs.evolve(scenario, population=500_000)) is None


def test_sim_check_refuses_ten_million_people_that_do_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("count = 1000 ", "count = 100000000 ")
    (tmp_path / "big.toml").write_text(text, encoding="utf-8")
    assert main(["check", str(tmp_path / "big.toml")]) == 2
    err = capsys.readouterr().err
    assert "[people]: 100,000,000 people need about" in err and "people fit" in err


def test_under_ulimit_v_two_million_people_are_refused_before_anything_runs(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("count = 1000 ", "count = 2000000 ")
    (tmp_path / "big.toml").write_text(text, encoding="utf-8")
    limit = 4 * 2**30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(tmp_path / "big.toml")],
        capture_output=True,
        text=True,
        preexec_fn=cap,
        timeout=120,
    )
    assert done.returncode == 2
    assert "the address-space limit (ulimit -v: 4.0 GB)" in done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr


HUGE = {
    "a rate of 1,000,000/s": '[[load]]\ntype = "fill_out_form"\nrate = "1000000/s"\n',
    "a batch every 0.001ms": (
        '[campaigns.B]\nkind = "batch"\nschedule = { at = "0s", every = "0.001ms" }\n'
        'flow = [{ step = "send_email", email = "E" }]\n'
    ),
    "a year of load": '[sim]\nduration = "365d"\n[[load]]\ntype = "fill_out_form"\nrate = "20/s"\n',
    "a self-triggering campaign with a huge step budget": (
        '[sim]\nstep_budget = 1000000000\n[campaigns.Loop]\nqualification = "every time"\n'
        'triggers = [{ trigger = "score_is_changed" }]\nflow = [{ step = "change_score", change = "+1" }]\n'
        '[[load]]\ntype = "fill_out_form"\nrate = "10/h"\n'
    ),
}
BASE = """
[people]
count = 100

[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
"""


@pytest.mark.parametrize("case", HUGE, ids=list(HUGE))
def test_work_that_cannot_finish_soon_is_announced_by_sim_check(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "huge.toml").write_text(BASE + HUGE[case], encoding="utf-8")
    assert main(["check", str(tmp_path / "huge.toml")]) == 0  # valid: a warning, not an error
    err = capsys.readouterr().err
    assert "warning: " in err and "a very long run: about " in err and " of wall time" in err


def test_the_examples_are_not_announced_and_their_estimates_are_near_what_they_log() -> None:
    for path in sorted((ROOT / "examples").glob("*.toml")):
        assert work_warning(load_scenario(path)) is None, path.name
    work = estimate_work(load_scenario(ROOT / "examples" / "webinar-backlog.toml"))
    assert 50_000 < work.activities < 150_000  # it logs 69,326 with seed 1


def test_available_memory_reads_the_address_space_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    room, limit = estimate.available_memory()
    assert room > 0
    if soft != resource.RLIM_INFINITY:
        assert room <= soft
    assert limit  # says what sets it


def _field_chain(length: int, *, back_to_first: bool = False) -> str:
    """Campaigns C0..Cn: Ci listens for a change of field fi and writes f(i+1)."""
    fields = "".join(f'f{i} = ""\n' for i in range(length + 1))
    campaigns = "".join(
        f'[campaigns.C{i}]\nqualification = "every time"\n'
        f'triggers = [{{ trigger = "data_value_changes", field = "f{i}" }}]\n'
        f'flow = [{{ step = "change_data_value", field = "f{0 if back_to_first and i == length - 1 else i + 1}", '
        f'value = "x{i}" }}]\n'
        for i in range(length)
    )
    load = '[[load]]\ntype = "change_data_value"\nfield = "f0"\nvalue = "go"\nrate = "10/h"\n'
    return f"[fields]\n{fields}[people]\ncount = 10\n{campaigns}{load}"


def test_a_long_chain_of_triggered_campaigns_is_followed_to_its_end_without_recursion() -> None:
    """400 campaigns, each triggered by the one before: one run of each per arrival, no
    cycle, no RecursionError, and the constraints keep fields apart."""
    work = estimate_work(parse_scenario(_field_chain(400)))
    assert work.activities == 240 * (1 + 400 * 3)  # per arrival: itself, and 400 runs of 3 activities
    assert work_warning(parse_scenario(_field_chain(400))) is None


def test_only_campaigns_that_start_each_other_count_as_a_cycle() -> None:
    cyclic = estimate_work(parse_scenario(_field_chain(3, back_to_first=True)))
    assert (
        "each setting off campaigns that start each other until the step budget (10,000 a person)"
        in (cyclic.sources[0][0])
    )
    listens_to_a_writes_b = (
        '[fields]\na = ""\nb = ""\n[people]\ncount = 10000\n[campaigns.C]\nqualification = "every time"\n'
        'triggers = [{ trigger = "data_value_changes", field = "a" }]\n'
        'flow = [{ step = "change_data_value", field = "b", value = "x" }]\n'
        '[[load]]\ntype = "change_data_value"\nfield = "a"\nvalue = "go"\nrate = "10/s"\n'
    )
    work = estimate_work(parse_scenario(listens_to_a_writes_b))
    assert work.activities == 864_000 * (1 + 3)
    assert "step budget" not in work.sources[0][0]

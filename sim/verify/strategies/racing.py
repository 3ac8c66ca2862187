"""Small designs made to race: 2-4 runs started together, touching the same state.

`scenarios` draws whole designs, and most of them do not race: a trigger listens to
another form, a filter turns the person away. `racing_scenarios` draws the designs
schedule exploration is for: each person fills out one form at time 0, and 2-4 trigger
campaigns listen to it, so their runs are due together; their steps (1-3 each) read and
write a few shared items: a field, the score, a list, with choices, Waits, webhooks
with a write-back, Request Campaign and Remove from Flow. Optionally a campaign queue of
one worker ties everyone together, and a second person fills out the form at the same
instant, whose runs race only among themselves.

They are small enough that every schedule can be run (the ground truth of
`sim.verify.search`'s reduction, tests/test_search.py).
"""

from __future__ import annotations

import hypothesis.strategies as st

from sim.scenario import parse_scenario
from sim.scenario.model import Scenario

#: The steps a racing campaign is made of, as TOML (``{other}``: another campaign's name).
_STEPS = (
    '{ step = "change_data_value", field = "country", value = "US" }',
    '{ step = "change_data_value", field = "country", value = "DE" }',
    '{ step = "change_score", change = "+5" }',
    '{ step = "change_score", change = "=20" }',
    '{ step = "change_score", choices = [{ if = { field = "country", op = "is", value = "US" }, change = "+10" }] }',
    '{ step = "change_data_value", field = "owner", choices = [{ if = { field = "score", op = "at least", '
    'value = 10 }, value = "Sales" }], default = { value = "Nurture" } }',
    '{ step = "add_to_list", list = "MQL" }',
    '{ step = "remove_from_list", list = "MQL" }',
    '{ step = "wait", duration = "1s" }',
    '{ step = "call_webhook", webhook = "Enrich", latency = "1s", response = { country = "FR" } }',
    '{ step = "request_campaign", campaign = "Requested" }',
    '{ step = "remove_from_flow", campaigns = ["{other}"] }',
)

#: The requested campaign's one step: it races with whoever requested it.
_REQUESTED = (
    '{ step = "change_score", choices = [{ if = { field = "country", op = "is", value = "DE" }, change = "=1" }] }'
)


@st.composite
def racing_scenarios(draw: st.DrawFn, *, max_runs: int = 4, max_steps: int = 3, queue: bool | None = None) -> Scenario:
    """A design where 2-``max_runs`` trigger campaigns (1-``max_steps`` steps each) run for
    each person at once; ``queue`` True/False forces a one-worker queue or none (None:
    drawn)."""
    runs = draw(st.integers(2, max_runs))
    names = [f"Race {i + 1}" for i in range(runs)]
    campaigns = []
    requested = False
    for index, name in enumerate(names):
        count = draw(st.integers(1, max_steps))
        steps = []
        for _ in range(count):
            step = draw(st.sampled_from(_STEPS))
            if "{other}" in step:
                step = step.replace("{other}", names[(index + 1) % runs])
            requested = requested or "Requested" in step
            steps.append(step)
        flow = ",\n  ".join(steps)
        campaigns.append(
            f'[campaigns."{name}"]\ntriggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]\n'
            f'qualification = "every time"\nflow = [\n  {flow},\n]\n'
        )
    if requested:
        campaigns.append(
            '[campaigns."Requested"]\ntriggers = [{ trigger = "campaign_is_requested" }]\n'
            f'qualification = "every time"\nflow = [{_REQUESTED}]\n'
        )
    people = ["alice", "bob"][: draw(st.integers(1, 2))]
    with_queue = draw(st.booleans()) if queue is None else queue
    text = 'lists = ["MQL"]\n\n[sim]\nduration = "1h"\n\n[fields]\ncountry = ""\nscore = 0\nowner = ""\n\n'
    if with_queue:
        text += "[queue]\nworkers = 1\nbatch_workers = 1\n\n"
    text += "".join(f'[[person]]\nid = "{person}"\n\n' for person in people)
    text += "\n".join(campaigns)
    text += "".join(
        f'\n[[activities]]\nat = "0s"\nperson = "{person}"\ntype = "fill_out_form"\nform = "Contact Us"\n'
        for person in people
    )
    return parse_scenario(text, source="<racing design>")

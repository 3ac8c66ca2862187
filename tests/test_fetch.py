"""sim.marketo.fetch: a live instance's campaigns into the directory `sim import` reads,
against a real local HTTP server serving the acme instance's recorded answers (issue 15):
paging, the layout and content written, the token's life, retries, R23's limits, errors,
and the secret nowhere."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Any

import pytest
from marketo_server import CLIENT_ID, RECORDED, FakeClock, FakeMarketo, serve

from sim.marketo.fetch import FetchSummary, fetch_instance, write_json
from sim.marketo.rest_client import Limits, MarketoApiError, MarketoFetchError

SECRET = "acme-SECRET/42+x="
ACME = (1001, 1002, 1003, 1004, 1005, 1006, 1007)
LAYOUT = [
    *(f"smartCampaign/{i}.json" for i in ACME),
    *(f"smartCampaign/{i}/smartList.json" for i in ACME),
    "activities/types.json",
    "programs.json",
    "smartCampaigns.json",
]


def fetch(
    server: FakeMarketo, into: Path, clock: FakeClock, lines: list[str] | None = None, **options: Any
) -> FetchSummary:
    return fetch_instance(
        server.base_url,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        into=into,
        progress=(lines if lines is not None else []).append,
        limits=Limits(clock=clock, sleep=clock.sleep),
        **options,
    )


def written(into: Path) -> list[str]:
    return sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())


def recorded_result(name: str) -> Any:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))["result"]


def test_acme_is_fetched_page_by_page_into_the_plans_layout(tmp_path: Path) -> None:
    clock, into, lines = FakeClock(), tmp_path / "acme", []
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        summary = fetch(server, into, clock, lines, page_size=3)
    browse = server.calls("/rest/asset/v1/smartCampaigns.json")
    assert [(s.query["offset"], s.query["maxReturn"]) for s in browse] == [
        ("0", "3"),
        ("3", "3"),
        ("6", "3"),
        ("7", "3"),
    ]
    assert written(into) == sorted(LAYOUT)
    assert summary.campaigns == ACME
    assert [p.as_posix() for p in summary.files] == [
        *(f for i in ACME for f in (f"smartCampaign/{i}.json", f"smartCampaign/{i}/smartList.json")),
        "activities/types.json",
        "programs.json",
        "smartCampaigns.json",
    ]
    # 1 token + 4 pages + 2 program pages (one, then the empty end) + 7 records + 7 smart lists + the types
    assert (summary.calls, summary.token_fetches, summary.retries) == (22, 1, 0)
    assert summary.flow_steps is True and summary.without_flow == () and summary.notes == ()
    assert lines[0] == f"fetching from {server.base_url}"
    assert lines[1:5] == [
        "smart campaigns: 3 listed",
        "smart campaigns: 6 listed",
        "smart campaigns: 7 listed",
        "programs: 1 listed",
    ]
    assert lines[5] == "7 campaigns: 15 more calls"
    assert lines[-2:] == ["campaign details: 15 of 15 calls", f"wrote 17 files into {into}"]


def test_each_file_is_marketos_answer_without_the_request_id_pretty_and_sorted(tmp_path: Path) -> None:
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        fetch(server, into, clock, page_size=3)
    pages = [r for offset in (0, 3, 6) for r in recorded_result(f"smartCampaigns/offset-{offset}.json")]
    expected = {
        "smartCampaigns.json": pages,
        "activities/types.json": recorded_result("activities/types.json"),
        "programs.json": recorded_result("programs.json"),
        **{f"smartCampaign/{i}.json": recorded_result(f"smartCampaign/{i}.json") for i in ACME},
        **{f"smartCampaign/{i}/smartList.json": recorded_result(f"smartCampaign/{i}/smartList.json") for i in ACME},
    }
    for name, result in expected.items():
        text = (into / name).read_text(encoding="utf-8")
        assert json.loads(text) == {"success": True, "result": result}, name
        assert (
            text == json.dumps({"success": True, "result": result}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    flow = json.loads((into / "smartCampaign/1001.json").read_text(encoding="utf-8"))["result"][0]["flow"]
    assert [s["activityTypeName"] for s in flow["steps"]] == [
        "Change Data Value",
        "Change Score",
        "Request Campaign",
        "Execute Campaign",
    ]


def test_two_fetches_of_an_unchanged_instance_write_the_same_bytes(tmp_path: Path) -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        fetch(server, tmp_path / "one", clock, page_size=3)
        fetch(server, tmp_path / "two", clock)  # one page of 200: the same campaigns
    for name in LAYOUT:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_an_instance_without_flow_steps_is_fetched_without_them_and_says_so(tmp_path: Path) -> None:
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock, flow_steps=False)) as server:
        summary = fetch(server, into, clock, page_size=3)
    assert summary.flow_steps is False
    assert summary.without_flow == ACME
    assert len(summary.notes) == 1
    assert (
        "answered 709 'Unsupported parameter includeFlowSteps': campaigns were fetched without flow steps"
        in (summary.notes[0])
    )
    assert written(into) == sorted(LAYOUT)
    assert all("flow" not in json.loads((into / f"smartCampaign/{i}.json").read_text())["result"][0] for i in ACME)
    # Once refused, the parameter is not sent again to every campaign.
    refused = [s for s in server.seen if "includeFlowSteps" in s.query]
    assert len(refused) <= 10  # at most the calls already in flight when the first was refused


def test_marketos_warnings_become_notes_but_the_end_of_paging_does_not(tmp_path: Path) -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.warn["/rest/v1/activities/types.json"] = ["Some activity types are not visible to this user"]
        summary = fetch(server, tmp_path / "acme", clock, page_size=3)
    assert summary.notes == (
        "GET /rest/v1/activities/types.json: Marketo warned 'Some activity types are not visible to this user'",
    )


@pytest.mark.parametrize(
    ("fail", "tokens", "retries"),
    [
        ({"smartCampaign/1003/smartList.json": ["602"], "smartCampaigns.json": ["602"]}, 3, 0),
        ({"smartCampaign/1005.json": ["606"], "/rest/v1/activities/types.json": ["615"]}, 1, 2),
    ],
    ids=["an expired token is renewed", "rate and concurrency limits are waited out"],
)
def test_a_fetch_completes_through_expired_tokens_and_limits(
    tmp_path: Path, fail: dict[str, list[str]], tokens: int, retries: int
) -> None:
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        for path, codes in fail.items():
            server.fail[path if path.startswith("/") else f"/rest/asset/v1/{path}"] = codes
        summary = fetch(server, into, clock, page_size=3)
    assert (summary.token_fetches, summary.retries) == (tokens, retries)
    assert clock.slept == [2.0] * retries  # one back-off each
    assert written(into) == sorted(LAYOUT)


def test_a_server_error_stops_the_fetch_names_the_call_and_writes_nothing(tmp_path: Path) -> None:
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.fail["/rest/asset/v1/smartCampaign/1004/smartList.json"] = ["611"]
        with pytest.raises(MarketoApiError) as caught:
            fetch(server, into, clock, page_size=3)
    assert str(caught.value) == (
        "GET /rest/asset/v1/smartCampaign/1004/smartList.json?includeRules=true: Marketo answered 611 "
        "'System error': Marketo had a system error: fetch again later; if it persists, give Marketo support "
        "the request id"
    )
    assert not into.exists() or written(into) == []


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(tmp_path: Path) -> None:
    """Marketo's API does not redirect; following one would hand the bearer token to
    whatever it points at (here another host name of the same test server)."""
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        port = server.base_url.rsplit(":", 1)[1]
        server.redirect["/rest/asset/v1/smartCampaigns.json"] = f"http://localhost:{port}/steal"
        with pytest.raises(MarketoApiError) as caught:
            fetch(server, into, clock, page_size=3)
        assert server.calls("/steal") == []
    assert str(caught.value) == (
        f"GET /rest/asset/v1/smartCampaigns.json?offset=0&maxReturn=3: the instance answered with a redirect to "
        f"http://localhost:{port}, which is not followed (it would carry the access token there): give the REST "
        "endpoint itself: Admin > Integration > Web Services, REST API, Endpoint"
    )


def test_a_token_no_header_can_carry_is_refused_without_showing_it(tmp_path: Path) -> None:
    """http.client would raise with the header (token and all) in its message."""
    clock, into = FakeClock(), tmp_path / "acme"
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.token_tail = "\nX-Evil: 1"
        with pytest.raises(MarketoApiError) as caught:
            fetch(server, into, clock, page_size=3)
        issued = server.tokens[0]
    text = "".join(traceback.format_exception(caught.value))
    assert "the access token holds characters an HTTP header cannot carry" in text
    assert issued not in text and "acme-token" not in text and SECRET not in text


def test_a_directory_with_files_in_it_is_refused_before_any_call(tmp_path: Path) -> None:
    clock = FakeClock()
    (tmp_path / "old.json").write_text("{}")
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        with pytest.raises(MarketoFetchError, match="is not empty: give a new or empty directory"):
            fetch(server, tmp_path, clock)
        with pytest.raises(MarketoFetchError, match="is a file"):
            fetch(server, tmp_path / "old.json", clock)
    assert server.seen == []


@pytest.mark.parametrize(
    ("client_id", "secret", "says"), [("", SECRET, "no client id given"), (CLIENT_ID, "", "no client secret given")]
)
def test_missing_credentials_name_the_environment_variables(
    tmp_path: Path, client_id: str, secret: str, says: str
) -> None:
    with pytest.raises(MarketoFetchError) as caught:
        fetch_instance("https://123-ABC-456.mktorest.com", client_id=client_id, client_secret=secret, into=tmp_path)
    assert says in str(caught.value)
    assert "MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET" in str(caught.value)


def test_120_campaigns_keep_10_in_flight_and_100_in_any_20_seconds(tmp_path: Path) -> None:
    """R23's limits, as the server counts them (arrival times on the injected clock)."""
    clock, into, lines = FakeClock(), tmp_path / "many", []
    with serve(FakeMarketo(secret=SECRET, clock=clock, campaigns=120, hold=0.002)) as server:
        summary = fetch(server, into, clock, lines, page_size=50)
    assert "120 campaigns: 241 more calls, at least 40 s at 100 calls per 20 s" in lines
    assert len(summary.campaigns) == 120
    assert summary.calls == len(server.seen) == 1 + 4 + 2 + 2 * 120 + 1
    assert 2 <= server.most_in_flight <= 10
    arrivals = sorted(s.at for s in server.seen)
    assert max(sum(1 for u in arrivals if t <= u < t + 20.0) for t in arrivals) <= 100
    assert arrivals[-1] - arrivals[0] >= 40.0  # 246 calls need at least two waits
    assert len(written(into)) == 2 * 120 + 3


def test_the_secret_is_in_no_output_file_or_exception(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clock, lines = FakeClock(), []
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        summary = fetch(server, tmp_path / "ok", clock, lines, page_size=3)
        server.fail["/rest/asset/v1/smartCampaign/1002.json"] = ["603"]
        with pytest.raises(MarketoApiError) as denied:
            fetch(server, tmp_path / "denied", clock, lines)
        with pytest.raises(MarketoApiError) as refused:
            fetch_instance(
                server.base_url,
                client_id=CLIENT_ID,
                client_secret=SECRET + "-wrong",
                into=tmp_path / "no",
                progress=lines.append,
                limits=Limits(clock=clock, sleep=clock.sleep),
            )
    token_requests = [s.raw for s in server.calls("/identity/oauth/token")]
    assert len(token_requests) == 3 and all("client_secret=" in raw for raw in token_requests)
    captured = capsys.readouterr()
    shown = [
        *lines,
        repr(summary),
        captured.out,
        captured.err,
        *("".join(traceback.format_exception(e.value)) + repr(e.value) for e in (denied, refused)),
        *(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file()),
    ]
    for leak in (SECRET, "acme-SECRET", *token_requests):
        assert not [text for text in shown if leak in text], leak


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "smartCampaign" / "1001.json"
    write_json(path, {"result": [1], "success": True})
    before = path.read_bytes()

    def interrupted(source: object, target: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"result": [2], "success": True})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["1001.json"]  # no partial file left
    assert before == b'{\n  "result": [\n    1\n  ],\n  "success": true\n}\n'

"""sim.marketo.rest_client: the instance URL, the limits of R23, the token's life (601,
602), the retries (606, 615) and the errors, against a real local HTTP server."""

from __future__ import annotations

import socket
import traceback

import pytest
from marketo_server import CLIENT_ID, FakeClock, FakeMarketo, serve

from sim.marketo.rest_client import (
    InstanceUrlError,
    Limits,
    MarketoApiError,
    RateWindow,
    RestClient,
    instance_url,
)

SECRET = "acme-SECRET/42+x="
TYPES = "/rest/v1/activities/types.json"


def client_for(server: FakeMarketo, clock: FakeClock, *, secret: str = SECRET, retries: int = 5) -> RestClient:
    return RestClient(
        server.base_url,
        client_id=CLIENT_ID,
        client_secret=secret,
        limits=Limits(clock=clock, sleep=clock.sleep, retries=retries),
    )


# -- the instance URL -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://123-ABC-456.mktorest.com", "https://123-ABC-456.mktorest.com"),
        ("https://123-ABC-456.mktorest.com/", "https://123-ABC-456.mktorest.com"),
        ("https://123-ABC-456.mktorest.com/rest", "https://123-ABC-456.mktorest.com"),
        (" https://123-ABC-456.mktorest.com/identity/ ", "https://123-ABC-456.mktorest.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:9", "http://localhost:9"),
    ],
)
def test_the_instance_url_is_the_root_of_what_marketo_shows(given: str, base: str) -> None:
    assert instance_url(given) == base


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("http://123-ABC-456.mktorest.com", "is plain http"),
        ("ftp://123-ABC-456.mktorest.com", "is not an http(s) URL"),
        ("123-ABC-456.mktorest.com", "is not an http(s) URL"),
        ("https://123-ABC-456.mktorest.com/rest/v1/leads.json", "has the path '/rest/v1/leads.json'"),
        ("https://123-ABC-456.mktorest.com/?munchkin=1", "has a query"),
    ],
)
def test_an_unusable_instance_url_is_refused_with_the_url_and_an_example(given: str, says: str) -> None:
    with pytest.raises(InstanceUrlError) as caught:
        instance_url(given)
    assert says in str(caught.value)
    assert repr(given.strip()) in str(caught.value)
    assert "https://123-ABC-456.mktorest.com" in str(caught.value)


def test_credentials_in_the_url_are_refused_and_not_repeated() -> None:
    with pytest.raises(InstanceUrlError) as caught:
        instance_url("https://someone:hunter2@123-ABC-456.mktorest.com")
    assert "hunter2" not in str(caught.value)
    assert "MARKETO_CLIENT_SECRET" in str(caught.value)


# -- the window: 100 calls in any 20 seconds (R23) -------------------------------------------


def most_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + seconds) for t in times)


def test_the_window_lets_100_calls_through_then_waits_for_the_oldest_to_age_out() -> None:
    clock = FakeClock()
    window = RateWindow(calls=100, seconds=20.0, clock=clock, sleep=clock.sleep)
    started = []
    for _ in range(250):
        with window.slot():
            started.append(clock())
    assert started[:100] == [1000.0] * 100  # no wait for the first 100
    assert started[100] == 1020.0  # the 101st waits until the first has been done 20 s
    assert most_in_any_window(started, 20.0) == 100
    assert clock.slept == [20.0, 20.0]


def test_a_call_in_flight_keeps_its_slot_until_it_has_been_done_for_a_whole_window() -> None:
    clock = FakeClock()
    window = RateWindow(calls=2, seconds=20.0, clock=clock, sleep=clock.sleep)
    with window.slot():
        clock.sleep(15.0)  # a slow call: it may arrive at the server at 1015
    with window.slot():
        pass
    with window.slot():  # the third waits until 20 s after the slow call finished
        assert clock() == 1035.0


# -- the token --------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_sent_as_a_bearer_header() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        client = client_for(server, clock)
        for _ in range(3):
            assert client.get(TYPES)["success"] is True
    assert server.tokens == ["acme-token-1:ab"]
    assert [s.authorization for s in server.calls(TYPES)] == ["Bearer acme-token-1:ab"] * 3
    assert all("access_token" not in s.query for s in server.calls(TYPES))
    assert (client.calls, client.token_fetches, client.retries) == (4, 1, 0)


def test_an_expired_token_602_is_replaced_and_the_call_made_again_once() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.fail[TYPES] = ["602"]
        client = client_for(server, clock)
        assert client.get(TYPES)["result"][0]["name"] == "Visit Webpage"
    assert server.tokens == ["acme-token-1:ab", "acme-token-2:ab"]
    assert [s.authorization for s in server.calls(TYPES)] == ["Bearer acme-token-1:ab", "Bearer acme-token-2:ab"]


def test_a_token_that_lapses_by_the_clock_is_replaced_before_the_call() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        client = client_for(server, clock)
        client.get(TYPES)
        clock.sleep(3599.0 - 60.0)  # expires_in, less the minute kept in hand
        client.get(TYPES)
    assert len(server.tokens) == 2
    assert len(server.calls(TYPES)) == 2  # no call was wasted on a lapsed token


def test_an_invalid_token_601_twice_is_reported_with_the_endpoint_and_a_hint() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.reject_tokens = True
        client = client_for(server, clock)
        with pytest.raises(MarketoApiError) as caught:
            client.get(TYPES)
    assert len(server.tokens) == 2  # one new token, one more try: then it gives up
    assert str(caught.value) == (
        "GET /rest/v1/activities/types.json: Marketo answered 601 'Access token invalid': a new token was "
        "fetched and refused too: check that the client id and secret belong to this instance"
    )


def test_refused_client_credentials_say_where_to_find_them_and_never_show_the_secret() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret="the-right-one", clock=clock)) as server:
        client = client_for(server, clock)
        with pytest.raises(MarketoApiError) as caught:
            client.get(TYPES)
    token_request = server.calls("/identity/oauth/token")[0].raw
    assert SECRET.split("/")[0] in token_request  # the documented call carries the secret in its URL ...
    text = "".join(traceback.format_exception(caught.value)) + repr(caught.value) + repr(client)
    for leak in (SECRET, token_request, "client_secret", "acme-SECRET"):  # ... which no message shows
        assert leak not in text
    assert caught.value.code == "401"
    assert str(caught.value).startswith("GET /identity/oauth/token: Marketo answered 401 'Bad client credentials'")
    assert "Admin > Integration > LaunchPoint" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


# -- retries and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [["606", "615"], ["http503", "http502"]],
    ids=["rate and concurrency limits", "gateway error pages"],
)
def test_a_limit_or_a_gateway_error_is_retried_after_a_doubling_back_off(answers: list[str]) -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.fail[TYPES] = list(answers)
        client = client_for(server, clock)
        assert client.get(TYPES)["success"] is True
    assert (len(server.calls(TYPES)), client.retries) == (3, 2)
    assert clock.slept == [2.0, 4.0]


def test_a_url_that_is_not_marketos_api_says_where_to_find_the_right_one() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server, pytest.raises(MarketoApiError) as caught:
        client_for(server, clock).get("/rest/v1/nothing.json")
    assert str(caught.value) == (
        "GET /rest/v1/nothing.json: Marketo answered HTTP 404 '<html><body>Not Found</body></html>': the URL may "
        "not be a Marketo instance's: check it (Admin > Integration > Web Services)"
    )


def test_a_limit_that_never_lifts_gives_up_after_the_retries_and_says_why() -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.fail[TYPES] = ["615"] * 10
        client = client_for(server, clock, retries=3)
        with pytest.raises(MarketoApiError) as caught:
            client.get(TYPES)
    assert len(server.calls(TYPES)) == 4
    assert clock.slept == [2.0, 4.0, 8.0]
    assert caught.value.code == "615"
    assert "10 calls were in flight" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("603", "603 'Access denied': the API-only user's role lacks a permission: give it Read-Only Assets"),
        ("611", "611 'System error': Marketo had a system error"),
        ("http500", "HTTP 500 '<html><body>Internal Server Error</body></html>'"),
    ],
)
def test_other_errors_are_reported_at_once_with_the_endpoint_code_and_message(code: str, says: str) -> None:
    clock = FakeClock()
    with serve(FakeMarketo(secret=SECRET, clock=clock)) as server:
        server.fail[TYPES] = [code]
        client = client_for(server, clock)
        with pytest.raises(MarketoApiError) as caught:
            client.get(TYPES)
    assert str(caught.value).startswith(f"GET {TYPES}: Marketo answered {says}")
    assert len(server.calls(TYPES)) == 1


def test_an_instance_that_does_not_answer_is_reported_with_its_url() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    client = RestClient(
        f"http://127.0.0.1:{port}",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        limits=Limits(clock=clock, sleep=clock.sleep, timeout=2.0),
    )
    with pytest.raises(MarketoApiError) as caught:
        client.get(TYPES)
    assert caught.value.code == "network"
    assert caught.value.endpoint == "GET /identity/oauth/token"
    assert f"could not reach http://127.0.0.1:{port}" in str(caught.value)
    assert SECRET not in "".join(traceback.format_exception(caught.value))

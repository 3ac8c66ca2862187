"""A Marketo instance for the fetch tests: a real HTTP server on 127.0.0.1 (port 0, in a
thread) that answers recorded responses from tests/data/marketo/recorded/ (the acme
instance of the issue 15 plan: 7 campaigns, paged 3 at a time), or generates N campaigns.

It checks what Marketo checks (client credentials on the token call, a Bearer token on
every other call), can be told to answer a call with an error first (`fail`), and
records every request (arrival time on the test's clock, path, query, header) and the
most requests it held at once.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

RECORDED = Path(__file__).parent / "data" / "marketo" / "recorded"
CLIENT_ID = "acme-client-id"


@attrs.frozen(kw_only=True)
class Seen:
    """One request as the server saw it."""

    at: float  # on the test's clock
    path: str
    query: dict[str, str]
    raw: str  # the request target, query string and all
    authorization: str


class FakeMarketo:
    """The server's state; `serve` runs it."""

    def __init__(
        self,
        *,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
        campaigns: int = 0,
        hold: float = 0.0,
        flow_steps: bool = True,
    ) -> None:
        self.secret, self.clock, self.campaigns, self.hold, self.flow_steps = secret, clock, campaigns, hold, flow_steps
        self.fail: dict[str, list[str]] = {}  # path -> codes to answer, in turn, before the recorded answer
        self.warn: dict[str, list[str]] = {}  # path -> warnings added to its answers
        self.reject_tokens = False  # answer 601 to every token (an instance that refuses them)
        self.redirect: dict[str, str] = {}  # path -> where a 302 sends it (something in front of Marketo)
        self.token_tail = ""  # appended to every token issued (one no HTTP header can carry)
        self.seen: list[Seen] = []
        self.tokens: list[str] = []
        self._valid: set[str] = set()
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.base_url = ""

    # -- bookkeeping ------------------------------------------------------------------

    @contextmanager
    def held(self, seen: Seen) -> Iterator[None]:
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold:
                time.sleep(self.hold)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    # -- answers ----------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], authorization: str) -> tuple[int, Any]:
        if path == "/identity/oauth/token":
            return self.token(query)
        token = authorization.removeprefix("Bearer ")
        with self._lock:
            valid = token in self._valid and not self.reject_tokens
            scripted = self.fail.get(path, [])
            code = scripted.pop(0) if valid and scripted else ""
            if code == "602":
                self._valid.discard(token)
        if not valid:
            return 200, recorded("errors/601.json")
        if code.startswith("http"):  # an HTTP error page from something in front of Marketo
            return int(code[4:]), "<html><body>Internal Server Error</body></html>"
        if code:
            return 200, recorded(f"errors/{code}.json")
        status, body = self.asset(path, query)
        if path in self.warn and isinstance(body, dict):
            body["warnings"] = [*body.get("warnings", []), *self.warn[path]]
        return status, body

    def token(self, query: dict[str, str]) -> tuple[int, Any]:
        if query.get("client_id") != CLIENT_ID or query.get("client_secret") != self.secret:
            return 401, recorded("errors/identity-401.json")
        with self._lock:
            token = f"acme-token-{len(self.tokens) + 1}:ab{self.token_tail}"
            self.tokens.append(token)
            self._valid.add(token)
        return 200, recorded("token.json") | {"access_token": token}

    def asset(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/rest/asset/v1/smartCampaigns.json":
            return 200, self.browse(int(query.get("offset", "0")), int(query.get("maxReturn", "20")))
        if path == "/rest/v1/activities/types.json":
            return 200, recorded("activities/types.json")
        if path == "/rest/asset/v1/programs.json":  # the one recorded page, then the empty end
            page = recorded("programs.json")
            offset, size = int(query.get("offset", "0")), int(query.get("maxReturn", "20"))
            chosen = page["result"][offset : offset + size]
            return 200, page | {"result": chosen} if chosen else recorded("smartCampaigns/offset-7.json")
        if match := re.fullmatch(r"/rest/asset/v1/smartCampaign/(\d+)\.json", path):
            if "includeFlowSteps" in query and not self.flow_steps:
                return 200, recorded("errors/709.json")
            answer = self.by_id(int(match[1]))
            if query.get("includeFlowSteps") != "true":
                answer["result"][0].pop("flow", None)
            return 200, answer
        if match := re.fullmatch(r"/rest/asset/v1/smartCampaign/(\d+)/smartList\.json", path):
            assert query.get("includeRules") == "true", query
            return 200, self.smart_list(int(match[1]))
        return 404, "<html><body>Not Found</body></html>"

    def browse(self, offset: int, size: int) -> Any:
        """The recorded pages when asked 3 at a time; otherwise pages cut from them (or generated)."""
        if not self.campaigns and size == 3:
            return recorded(f"smartCampaigns/offset-{offset}.json")
        page = recorded("smartCampaigns/offset-0.json")
        if self.campaigns:
            template = page["result"][0]
            every = [template | {"id": i, "name": f"Campaign {i}"} for i in range(10001, 10001 + self.campaigns)]
        else:
            every = [r for o in (0, 3, 6) for r in recorded(f"smartCampaigns/offset-{o}.json")["result"]]
        chosen = every[offset : offset + size]
        return page | {"result": chosen} if chosen else recorded("smartCampaigns/offset-7.json")

    def by_id(self, campaign_id: int) -> Any:
        if not self.campaigns:
            return recorded(f"smartCampaign/{campaign_id}.json")
        answer = recorded("smartCampaign/1001.json")
        answer["result"][0] |= {"id": campaign_id, "name": f"Campaign {campaign_id}"}
        return answer

    def smart_list(self, campaign_id: int) -> Any:
        return recorded(f"smartCampaign/{campaign_id if not self.campaigns else 1001}/smartList.json")


_cache: dict[str, Any] = {}


def recorded(name: str) -> Any:
    """A recorded answer (a fresh copy: answers are edited)."""
    if name not in _cache:
        _cache[name] = json.loads((RECORDED / name).read_text(encoding="utf-8"))
    return copy.deepcopy(_cache[name])


def handler_for(state: FakeMarketo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            seen = Seen(
                at=state.clock(),
                path=parts.path,
                query=query,
                raw=self.path,
                authorization=self.headers.get("Authorization", ""),
            )
            if parts.path in state.redirect:
                with state.held(seen):
                    pass
                self.send_response(302)
                self.send_header("Location", state.redirect[parts.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with state.held(seen):
                status, body = state.answer(parts.path, query, seen.authorization)
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request line holds the secret, and the test checks nothing leaks."""

    return Handler


class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when 10 arrive at once, and the client's
    # second try comes a second later: the tests would wait for nothing.
    request_queue_size = 64


@contextmanager
def serve(state: FakeMarketo) -> Iterator[FakeMarketo]:
    """Run the server for the duration of the block; `state.base_url` is where it listens."""
    server = Server(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class FakeClock:
    """Time that passes only when someone sleeps: a 20-second window in no time."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(seconds, 0.0)

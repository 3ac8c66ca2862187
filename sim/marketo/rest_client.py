"""Calls to one Marketo instance's REST API, within its documented limits (R23).

`RestClient.get` is one GET to the instance that answers Marketo's JSON (``success``
true) or raises `MarketoApiError` naming the endpoint, Marketo's code and message, and
what to do about it. Around every call it keeps the limits Marketo documents for an
instance: at most 10 calls in flight and at most 100 calls in any 20 seconds
(`RateWindow`). It fetches the OAuth token once (client credentials, from the identity
endpoint), sends it as an ``Authorization: Bearer`` header (Marketo is removing the
``access_token`` query parameter), fetches a new one when a call answers 601 (token
invalid) or 602 (token expired) and repeats that call once; it retries 606 (rate limit),
615 (concurrency limit), 604, 608 and HTTP 502 after a doubling back-off.

The client secret is a credential: it goes into the token request only, and never into
an error message, a progress line or a repr. The token request's URL carries it (the
documented call puts it in the query string), so that URL is never shown: the request is
named ``GET /identity/oauth/token`` and exceptions from it are raised without their
cause. Every text taken from a response is scrubbed of the secret and the token before
it is shown.

Threads, not trio: this stage imports no trio (docs/architecture.md), and urllib blocks.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from sim.marketo.json_payload import api_errors

#: Hosts a test server may use over plain http; every other instance must be https.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
TOKEN_PATH = "/identity/oauth/token"
#: 601 access token invalid, 602 access token expired: a new token, then the call again.
AUTH_CODES = frozenset({"601", "602"})
#: Worth the same call again after a wait: bad gateway, time-out, rate and concurrency
#: limits, API temporarily unavailable.
RETRY_CODES = frozenset({"502", "604", "606", "608", "615"})
HINTS = {
    "401": "the identity service refused the client id or secret: copy both again from Admin > Integration > "
    "LaunchPoint > (your service) > View Details into MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET",
    "601": "a new token was fetched and refused too: check that the client id and secret belong to this instance",
    "602": "a new token was fetched and had expired too: check the clock of this machine, then fetch again",
    "603": "the API-only user's role lacks a permission: give it Read-Only Assets and Read-Only Activity "
    "Metadata (Admin > Users & Roles > Roles), or lift the IP allowlist for API access",
    "604": "Marketo kept timing out: fetch again later",
    "606": "Marketo kept answering that 100 calls in 20 seconds were exceeded: other integrations share the "
    "instance's budget (R23); fetch again when they are quieter",
    "607": "the instance's daily API quota is used up (R23: 50,000 calls by default); fetch again after it "
    "resets at midnight US Central time",
    "608": "the API was unavailable for the whole back-off: fetch again later",
    "611": "Marketo had a system error: fetch again later; if it persists, give Marketo support the request id",
    "615": "Marketo kept answering that 10 calls were in flight: other integrations share the instance's "
    "budget (R23); fetch again when they are quieter",
}


class MarketoFetchError(Exception):
    """Raised when a fetch cannot go on; its text says what happened and how to fix it."""


class InstanceUrlError(MarketoFetchError, ValueError):
    """The instance URL given is not one a fetch may call."""


class MarketoApiError(MarketoFetchError):
    """A call the instance refused, with the endpoint, Marketo's code and message."""

    def __init__(self, *, endpoint: str, code: str, message: str, hint: str = "") -> None:
        self.endpoint, self.code, self.message, self.hint = endpoint, code, message, hint
        # Nothing answered (the network), or what answered was not Marketo's API (a redirect).
        said = f"no answer ({message})" if code == "network" else message if code == "redirect" else ""
        text = f"{endpoint}: {said or f'Marketo answered {code} {message!r}'}"
        super().__init__(f"{text}: {hint}" if hint else text)


def instance_url(text: str) -> str:
    """The instance's base URL (``https://host[:port]``) from what the user gave.

    Accepts the instance root, or the REST API or Identity URL Marketo shows (Admin >
    Integration > Web Services, ending in ``/rest`` or ``/identity``). Plain http only for a
    local test server. Credentials in the URL are refused, and not repeated in the message.
    """
    parts = urllib.parse.urlsplit(text.strip())
    shown = text if "@" not in parts.netloc else parts._replace(netloc="***@" + parts.netloc.split("@")[-1]).geturl()
    example = "use the REST API endpoint of Admin > Integration > Web Services, e.g. https://123-ABC-456.mktorest.com"
    if parts.username is not None or parts.password is not None:
        raise InstanceUrlError(
            f"instance URL {shown!r} carries credentials: give them in MARKETO_CLIENT_ID and "
            "MARKETO_CLIENT_SECRET, never in the URL"
        )
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise InstanceUrlError(f"instance URL {shown!r} is not an http(s) URL with a host: {example}")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise InstanceUrlError(
            f"instance URL {shown!r} is plain http: the token and data would travel unencrypted; {example}"
        )
    if parts.query or parts.fragment:
        raise InstanceUrlError(f"instance URL {shown!r} has a query or fragment: {example}")
    path = parts.path.rstrip("/")
    if path not in ("", "/rest", "/identity"):
        raise InstanceUrlError(f"instance URL {shown!r} has the path {parts.path!r}: {example}")
    return f"{parts.scheme}://{parts.netloc}"


@attrs.frozen(kw_only=True)
class Limits:
    """The budget a client keeps, and the clock it keeps it by (R23's documented limits).

    Tests inject ``clock`` and ``sleep`` so a 20-second window passes without waiting.
    """

    calls: int = 100  # calls in any window
    seconds: float = 20.0  # the window
    concurrent: int = 10  # calls in flight
    retries: int = 5  # of a call answered 606, 615, 604, 608 or HTTP 502
    backoff: float = 2.0  # first wait before a retry, doubled each time, at most `seconds`
    timeout: float = 60.0  # of one HTTP request
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class RateWindow:
    """At most `calls` calls in any `seconds`, as the server would count them.

    A call takes a slot before it is sent and keeps it until `seconds` after it finished:
    the server counts it when it arrives, which is somewhere between the two, so no
    window the server sees can hold more than `calls` of ours, whatever the latency.
    One waiter sleeps at a time (the lock is held), so waiters go in turn.
    """

    def __init__(
        self, *, calls: int, seconds: float, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._calls, self._seconds, self._clock, self._sleep = calls, seconds, clock, sleep
        self._finished: deque[float] = deque()  # when each call of the window finished, oldest first
        self._in_flight = 0
        self._lock = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one call's place in the window while the call is made."""
        with self._lock:
            while True:
                now = self._clock()
                while self._finished and self._finished[0] <= now - self._seconds:
                    self._finished.popleft()
                if self._in_flight + len(self._finished) < self._calls:
                    self._in_flight += 1
                    break
                if self._finished:
                    self._sleep(self._finished[0] + self._seconds - now)
                else:
                    self._lock.wait()
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._finished.append(self._clock())
                self._lock.notify_all()


def describe(path: str, params: Mapping[str, str] | None = None) -> str:
    """How an endpoint is named in messages: ``GET /rest/...json?offset=3``."""
    return f"GET {path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")


class RestClient:
    """GETs to one instance, keeping its limits; safe to call from several threads."""

    def __init__(self, base_url: str, *, client_id: str, client_secret: str, limits: Limits | None = None) -> None:
        self.base_url = instance_url(base_url)
        self._client_id, self._secret = client_id, client_secret
        self.limits = limits or Limits()
        self._window = RateWindow(
            calls=self.limits.calls, seconds=self.limits.seconds, clock=self.limits.clock, sleep=self.limits.sleep
        )
        self._in_flight = threading.BoundedSemaphore(self.limits.concurrent)
        self._token_lock = threading.Lock()
        self._token = ""
        self._token_expires = 0.0
        self._count_lock = threading.Lock()
        self.calls = self.token_fetches = self.retries = 0

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r})"

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Marketo's answer to ``GET path?params``, when it says ``success``.

        Raises `MarketoApiError` for an answer with errors, after one new token for 601/602
        and up to `Limits.retries` waits for the codes worth retrying.
        """
        endpoint = describe(path, params)
        url = self.base_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        refreshed, attempt = False, 0
        while True:
            token = self._current_token()
            body = self._send(url, endpoint, {"Authorization": f"Bearer {token}"})
            code, message = first_error(body)
            if not code:
                return body
            if code in AUTH_CODES and not refreshed:
                self._renew_token(stale=token)
                refreshed = True
            elif code in RETRY_CODES and attempt < self.limits.retries:
                self._back_off(attempt)
                attempt += 1
            else:
                raise MarketoApiError(
                    endpoint=endpoint, code=code, message=self._scrub(message), hint=HINTS.get(code, "")
                )

    def _back_off(self, attempt: int) -> None:
        with self._count_lock:
            self.retries += 1
        self.limits.sleep(min(self.limits.backoff * 2**attempt, self.limits.seconds))

    def _current_token(self) -> str:
        with self._token_lock:
            if not self._token or self.limits.clock() >= self._token_expires:
                self._fetch_token()
            return self._token

    def _renew_token(self, *, stale: str) -> None:
        """A new token, unless another thread already replaced the stale one."""
        with self._token_lock:
            if self._token == stale:
                self._fetch_token()

    def _fetch_token(self) -> None:
        """Client credentials for a token (the lock is held). Its URL holds the secret."""
        endpoint = describe(TOKEN_PATH)
        query = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._secret}
        body = self._send(self.base_url + TOKEN_PATH + "?" + urllib.parse.urlencode(query), endpoint, {})
        with self._count_lock:
            self.token_fetches += 1
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            code, message = first_error(body)
            if not code:
                code, message = "token", "the answer holds no access_token"
            hint = HINTS["401"] if code in ("401", "token") else HINTS.get(code, "")
            raise MarketoApiError(endpoint=endpoint, code=code, message=self._scrub(message), hint=hint)
        problem = _token_problem(token)
        if problem:
            raise MarketoApiError(
                endpoint=endpoint, code="token", message=problem, hint="check that the URL is the instance's"
            )
        self._token = token
        # A minute early, so a call is not sent with a token about to lapse.
        lifespan = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token_expires = self.limits.clock() + max(lifespan - 60.0, 0.0)

    def _send(self, url: str, endpoint: str, headers: dict[str, str]) -> dict[str, Any]:
        """One HTTP GET within the limits; its JSON object. HTTP-level failures become errors."""
        request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
        status, raw, failure, redirected = 200, b"", "", ""
        with self._in_flight, self._window.slot():
            with self._count_lock:
                self.calls += 1
            try:
                with _OPENER.open(request, timeout=self.limits.timeout) as response:
                    raw = response.read()
            except urllib.error.HTTPError as error:
                status = error.code
                try:
                    raw = error.read()
                except (OSError, http.client.HTTPException):
                    raw = b""
                error.close()
            except _Redirected as error:
                redirected = str(error)
                failure = "redirect"
            except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
                failure = str(getattr(error, "reason", error)) or type(error).__name__
        if failure == "redirect":
            raise MarketoApiError(
                endpoint=endpoint,
                code="redirect",
                message=f"the instance answered with a redirect to {redirected}, which is not followed (it would "
                "carry the access token there)",
                hint="give the REST endpoint itself: Admin > Integration > Web Services, REST API, Endpoint",
            )
        if failure:
            # Raised here, not in the except clause: the caught exception (whose request
            # may be the token request, secret and all) must not ride along as context.
            raise MarketoApiError(
                endpoint=endpoint,
                code="network",
                message=self._scrub(failure),
                hint=f"could not reach {self.base_url}: check the URL and the network",
            )
        return self._parse(raw, status, endpoint)

    def _parse(self, raw: bytes, status: int, endpoint: str) -> dict[str, Any]:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if isinstance(body, dict) and (status == 200 or body.get("errors")):
            return body
        if isinstance(body, dict) and status == 401:  # the identity service's own shape
            message = str(body.get("error_description") or body.get("error") or "HTTP 401")
            return {"success": False, "errors": [{"code": "401", "message": message}]}
        if status in (502, 503, 504):
            return {"success": False, "errors": [{"code": "502", "message": f"HTTP {status}"}]}
        hint = "the URL may not be a Marketo instance's: check it (Admin > Integration > Web Services)"
        raise MarketoApiError(
            endpoint=endpoint,
            code=f"HTTP {status}",
            message=self._scrub(raw[:200].decode("utf-8", "replace")) or "(empty)",
            hint=hint,
        )

    def _scrub(self, text: str) -> str:
        """The text with the secret and the token blanked out (an echo must not leak them)."""
        for secret in (self._secret, urllib.parse.quote_plus(self._secret), self._token):
            if secret:
                text = text.replace(secret, "***")
        return text


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Marketo's REST API does not redirect. Following one would send the bearer token
    (or, on the token call, the secret in the URL) to wherever the redirect points, in
    clear if it points at http: a redirect is an error that names where it led."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = urllib.parse.urlsplit(newurl)
        raise _Redirected(f"{target.scheme}://{target.netloc}")


class _Redirected(Exception):
    """Raised inside urllib's opener; `RestClient._send` turns it into an error."""


#: urllib's opener without redirects (and without the proxy-from-the-environment default
#: changing: ProxyHandler is still in the default chain).
_OPENER = urllib.request.build_opener(_NoRedirects)


def _token_problem(token: str) -> str:
    """Why ``token`` cannot go in an HTTP header, or "" (a token holding a line break would
    make http.client raise with the header, token and all, in its message)."""
    if not token.isascii() or not token.isprintable():
        return "the access token holds characters an HTTP header cannot carry"
    return ""


def first_error(body: Mapping[str, Any]) -> tuple[str, str]:
    """Marketo's first (code, message) when the answer is not a success, else ("", "")."""
    failed = api_errors(body)
    if failed is None and body.get("errors"):  # errors listed without "success": false
        failed = api_errors({**body, "success": False})
    if failed is None:
        return "", ""
    return failed[0] if failed else ("?", "the answer says success false and gives no error")

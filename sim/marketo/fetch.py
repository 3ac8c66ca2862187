"""Fetch a live instance's campaigns into a directory `sim import` reads (issue 15).

`fetch_instance` asks the instance, through `RestClient` (which keeps R23's limits), for
every smart campaign (the browse endpoint, page by page), each campaign's record by id
with its flow steps and its smart list with rules, and the instance's activity types,
and writes them as::

    DIR/smartCampaigns.json                 every page merged, sorted by id
    DIR/smartCampaign/{id}.json             by id, with flow steps where the instance gives them
    DIR/smartCampaign/{id}/smartList.json   with rules
    DIR/activities/types.json               the activity types

each file Marketo's envelope ``{"result": [...], "success": true}`` (the request id,
which differs on every call, left out), pretty, UTF-8, keys sorted, so two fetches of
an unchanged instance write the same bytes. Nothing is written until everything has
been fetched, then each file atomically (a temporary file renamed over it), with
``smartCampaigns.json`` last: a failed fetch writes nothing, an interrupted one leaves
no half file.

Flow steps come from ``includeFlowSteps=true`` on the by-id call. If the instance
answers that with an error of the 7xx family (a parameter it does not accept), the
record is fetched without it, the rest of the campaigns are asked without it, and the
summary says so: the importer then writes empty flows marked TODO.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import attrs

from sim.marketo.rest_client import Limits, MarketoApiError, MarketoFetchError, RestClient, describe

BROWSE = "/rest/asset/v1/smartCampaigns.json"
PROGRAMS = "/rest/asset/v1/programs.json"
BY_ID = "/rest/asset/v1/smartCampaign/{id}.json"
SMART_LIST = "/rest/asset/v1/smartCampaign/{id}/smartList.json"
ACTIVITY_TYPES = "/rest/v1/activities/types.json"
#: The most records an asset browse returns per call (Marketo's documented maximum).
MAX_PAGE = 200
#: The warning on the empty page after the last.
END_OF_PAGES = "No assets found for the given search criteria"

Progress = Callable[[str], None]


@attrs.frozen(kw_only=True)
class FetchSummary:
    """What a fetch wrote and what it cost, for the command to report."""

    directory: Path
    campaigns: tuple[int, ...]  # the ids fetched, ascending
    files: tuple[Path, ...]  # written, relative to `directory`, in the order written
    calls: int  # HTTP requests made, the token's included
    token_fetches: int
    retries: int  # calls repeated after a rate, concurrency or availability error
    flow_steps: bool  # whether the instance accepted includeFlowSteps
    without_flow: tuple[int, ...]  # campaigns whose record came without flow steps
    notes: tuple[str, ...]  # things the user should know (Marketo's warnings, fallbacks)


def fetch_instance(
    base_url: str,
    *,
    client_id: str,
    client_secret: str,
    into: Path,
    progress: Progress | None = None,
    page_size: int = MAX_PAGE,
    limits: Limits | None = None,
) -> FetchSummary:
    """Fetch every smart campaign of the instance at `base_url` into the directory `into`.

    `into` must be absent or empty, so an earlier fetch's campaigns are never mixed with
    this one's. The credentials are an API-only user's LaunchPoint service's (the command
    reads them from MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET); they are never written,
    shown or logged. `progress` gets a line of text now and then. Raises
    `MarketoFetchError` (an `InstanceUrlError` or `MarketoApiError`) saying what failed.
    """
    tell = progress or (lambda _line: None)
    if not client_id or not client_secret:
        missing = " and ".join(n for n, v in (("client id", client_id), ("client secret", client_secret)) if not v)
        raise MarketoFetchError(
            f"no {missing} given: set MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET to the values of Admin > "
            "Integration > LaunchPoint > (your service) > View Details"
        )
    if not 1 <= page_size <= MAX_PAGE:
        raise MarketoFetchError(f"page size {page_size} is out of range: Marketo returns 1 to {MAX_PAGE} per page")
    check_empty(into)
    client = RestClient(base_url, client_id=client_id, client_secret=client_secret, limits=limits)
    tell(f"fetching from {client.base_url}")
    campaigns, notes = browse_campaigns(client, page_size=page_size, tell=tell)
    programs, program_notes = browse_programs(client, page_size=page_size, tell=tell)
    notes += program_notes
    tell(cost(len(campaigns), client.limits))
    details = CampaignDetails(client, tell=tell)
    records, smart_lists, types = details.fetch([campaign["id"] for campaign in campaigns])
    files: dict[Path, Any] = {}
    for campaign_id in sorted(records):
        files[Path("smartCampaign", f"{campaign_id}.json")] = envelope([records[campaign_id]])
        files[Path("smartCampaign", str(campaign_id), "smartList.json")] = envelope([smart_lists[campaign_id]])
    files[Path("activities", "types.json")] = envelope(types)
    files[Path("programs.json")] = envelope(programs)
    files[Path("smartCampaigns.json")] = envelope(campaigns)  # last: its presence means the fetch completed
    for relative, payload in files.items():
        write_json(into / relative, payload)
    without_flow = tuple(i for i in sorted(records) if not records[i].get("flow"))
    tell(f"wrote {len(files)} files into {into}")
    return FetchSummary(
        directory=into,
        campaigns=tuple(sorted(records)),
        files=tuple(files),
        calls=client.calls,
        token_fetches=client.token_fetches,
        retries=client.retries,
        flow_steps=details.flow_steps,
        without_flow=without_flow,
        notes=tuple(notes + details.notes),
    )


def cost(campaigns: int, limits: Limits) -> str:
    """What fetching the campaigns' details will take, against the window (R23)."""
    calls = 2 * campaigns + 1
    text = f"{campaigns} campaigns: {calls} more calls"
    if calls <= limits.calls:
        return text
    wait = calls // limits.calls * limits.seconds
    return f"{text}, at least {wait:.0f} s at {limits.calls} calls per {limits.seconds:.0f} s"


def check_empty(into: Path) -> None:
    """Refuse a file, or a directory with anything in it, before any call is made."""
    if into.exists() and not into.is_dir():
        raise MarketoFetchError(f"{into} is a file: give a directory to fetch into (absent or empty)")
    if into.is_dir() and any(into.iterdir()):
        raise MarketoFetchError(
            f"{into} is not empty: give a new or empty directory, so the files of an earlier fetch are not "
            "mixed with this one's"
        )


def browse_campaigns(client: RestClient, *, page_size: int, tell: Progress) -> tuple[list[dict[str, Any]], list[str]]:
    """Every smart campaign record, in id order, and notes (`browse_all`)."""
    campaigns, notes = browse_all(client, BROWSE, noun="smart campaigns", page_size=page_size, tell=tell)
    if not campaigns:
        notes.append("the instance listed no smart campaigns: check the API-only user's workspace access")
    return campaigns, notes


def browse_programs(client: RestClient, *, page_size: int, tell: Progress) -> tuple[list[dict[str, Any]], list[str]]:
    """Every program record (their names and channels: a campaign names its program by
    id), in id order, and notes (`browse_all`)."""
    return browse_all(client, PROGRAMS, noun="programs", page_size=page_size, tell=tell)


def browse_all(
    client: RestClient, path: str, *, noun: str, page_size: int, tell: Progress
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every record of a browse endpoint, page by page until a page comes back empty; and notes.

    The end is an empty page (Marketo adds the warning "No assets found for the given
    search criteria"); a short page is not trusted to be the last. A record seen on two
    pages (the instance changed while paging) is kept once.
    """
    seen: dict[int, dict[str, Any]] = {}
    notes: list[str] = []
    offset = 0
    while True:
        params = {"offset": str(offset), "maxReturn": str(page_size)}
        body = client.get(path, params)
        page = records_of(body, describe(path, params))
        notes += warnings_of(body, describe(path, params))
        if not page:
            break
        for record in page:
            if record["id"] in seen:
                notes.append(f"{noun} {record['id']} was listed twice while paging (the instance changed?)")
            seen.setdefault(record["id"], record)
        offset += len(page)
        tell(f"{noun}: {len(seen)} listed")
    return [seen[i] for i in sorted(seen)], notes


def warnings_of(body: Mapping[str, Any], endpoint: str) -> list[str]:
    """Marketo's warnings on an answer, as notes; the one that marks the end of paging is no news."""
    warnings = body.get("warnings")
    return [
        f"{endpoint}: Marketo warned {str(w)!r}"
        for w in (warnings if isinstance(warnings, list) else [])
        if not str(w).startswith(END_OF_PAGES)
    ]


def records_of(body: Mapping[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """The ``result`` records of an answer, each an object with an integer id."""
    result = body.get("result", [])
    if not isinstance(result, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in result):
        raise MarketoApiError(
            endpoint=endpoint,
            code="payload",
            message="result is not a list of records with integer ids",
            hint="the URL may not be a Marketo instance's REST API: check it",
        )
    return result


class CampaignDetails:
    """The by-id records, smart lists and activity types, fetched by a pool of threads.

    The pool has as many threads as calls may be in flight (R23: 10); the client keeps
    both limits whatever the pool does. The first failure stops the rest.
    """

    def __init__(self, client: RestClient, *, tell: Progress) -> None:
        self._client, self._tell = client, tell
        self._lock = threading.Lock()
        self.flow_steps = True  # until the instance refuses includeFlowSteps
        self.notes: list[str] = []
        self._done = self._total = 0

    def fetch(self, ids: Iterable[int]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]], list[Any]]:
        """(record by id, smart list by id, activity types)."""
        ids = list(ids)
        self._total = 2 * len(ids) + 1
        pool = ThreadPoolExecutor(max_workers=self._client.limits.concurrent, thread_name_prefix="marketo")
        try:
            types = pool.submit(self._activity_types)
            records = {i: pool.submit(self._record, i) for i in ids}
            smart_lists = {i: pool.submit(self._smart_list, i) for i in ids}
            every: list[Future[Any]] = [types, *records.values(), *smart_lists.values()]
            done, _ = wait(every, return_when=FIRST_EXCEPTION)
        finally:  # after a failure (or Ctrl-C), what has not started never will
            pool.shutdown(wait=True, cancel_futures=True)
        failed = [error for f in every if f in done and (error := f.exception()) is not None]
        if failed:
            raise failed[0]
        return (
            {i: f.result() for i, f in records.items()},
            {i: f.result() for i, f in smart_lists.items()},
            types.result(),
        )

    def _one(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        body = self._client.get(path, params)
        with self._lock:
            self.notes += warnings_of(body, describe(path, params))
        records = records_of(body, describe(path, params))
        if len(records) != 1:
            raise MarketoApiError(
                endpoint=describe(path, params),
                code="payload",
                message=f"{len(records)} records where one was expected",
                hint="the campaign may have been deleted while fetching: fetch again",
            )
        self._step()
        return records[0]

    def _step(self) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        if done % 20 == 0 or done == self._total:
            self._tell(f"campaign details: {done} of {self._total} calls")

    def _record(self, campaign_id: int) -> dict[str, Any]:
        path = BY_ID.format(id=campaign_id)
        if self.flow_steps:
            try:
                return self._one(path, {"includeFlowSteps": "true"})
            except MarketoApiError as error:
                if not error.code.startswith("7"):
                    raise
                with self._lock:
                    if self.flow_steps:
                        self.flow_steps = False
                        self.notes.append(
                            f"{error.endpoint} answered {error.code} {error.message!r}: campaigns were fetched "
                            "without flow steps; the import writes their flows empty, marked TODO"
                        )
        return self._one(path)

    def _smart_list(self, campaign_id: int) -> dict[str, Any]:
        return self._one(SMART_LIST.format(id=campaign_id), {"includeRules": "true"})

    def _activity_types(self) -> list[Any]:
        body = self._client.get(ACTIVITY_TYPES)
        with self._lock:
            self.notes += warnings_of(body, describe(ACTIVITY_TYPES))
        self._step()
        return records_of(body, describe(ACTIVITY_TYPES))


def envelope(result: list[Any]) -> dict[str, Any]:
    """Marketo's answer as the importer reads it, without what differs call to call."""
    return {"success": True, "result": result}


def write_json(path: Path, payload: Any) -> None:
    """Write `payload` as pretty UTF-8 JSON with sorted keys, atomically.

    A temporary file in the same directory, flushed to disk, then renamed over `path`:
    a reader sees the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with temporary.open("w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

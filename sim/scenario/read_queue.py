"""Reading ``[queue]``: the campaign queue's workers and service times per step kind (R19-R22)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.read_problems import Reader, article, kind_of
from sim.scenario.units import show


def read_queue(r: Reader, data: Mapping[str, Any]) -> model.Queue | None:
    """``[queue]``: workers per queue and service times per step kind; None if absent."""
    if "queue" not in data:
        return None
    with r.at("[queue]"):
        table = r.table(data, "queue", "[queue]")
        r.check_keys(table, ("workers", "batch_workers", "service"), "[queue]")
        workers = r.guard(lambda: _workers(r, table, "workers", 10), 10)
        batch_workers = r.guard(lambda: _workers(r, table, "batch_workers", workers), workers)
        service = dict(model.Queue().service)
        raw_service = r.table(table, "service", "[queue.service]")
        r.check_keys(raw_service, ("default", *model.STEP_KINDS), "[queue.service]")
        if "default" in raw_service:
            with r.at("[queue.service] default"):
                default = _service_time(r, raw_service["default"], "default")
                # Not the kinds whose time is elsewhere: a Wait's duration, a
                # webhook's latency, an executed child's steps. Name them to set them.
                service.update((kind, default) for kind in service if kind not in model.ZERO_SERVICE)
        for kind, raw in raw_service.items():
            if kind != "default":
                with r.at(f"[queue.service] {kind}"):
                    service[kind] = _service_time(r, raw, kind)
        return model.Queue(workers=workers, batch_workers=batch_workers, service=service)
    return None


def _workers(r: Reader, table: Mapping[str, Any], key: str, default: object) -> int:
    count = r.get(table, key, int, default)
    if not 1 <= count <= 100_000:
        raise r.fail(f'"{key}" is {show(count)}; a queue needs 1 to 100,000 workers')
    return int(count)


def _service_time(r: Reader, raw: object, key: str) -> model.ServiceTime:
    """A duration ("50ms": constant) or { distribution = ..., mean = ..., ... }."""
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return model.ServiceTime(mean=r.duration({key: raw}, key))
    if not isinstance(raw, dict):
        raise r.fail(
            f'a service time is a duration like "50ms" or a table like '
            f'{{ distribution = "exponential", mean = "50ms" }}, not {kind_of(raw)} ({show(raw)})'
        )
    kind = r.get(raw, "distribution", str, "constant")
    keys = {"constant": ("mean",), "exponential": ("mean",), "lognormal": ("mean", "sd"), "empirical": ("values",)}
    if kind not in keys:
        raise r.fail(f'distribution "{kind}" is not one of {", ".join(model.DISTRIBUTIONS)}')
    r.check_keys(raw, ("distribution", *keys[kind]), f"{article(kind)} {kind} service time")
    if kind == "empirical":
        values = r.get(raw, "values", list)
        if not values:
            raise r.fail('"values" is empty; give the observed times, e.g. values = ["40ms", "55ms", "2s"]')
        times = tuple(r.duration({"values": v}, "values") for v in values)
        return model.ServiceTime(distribution="empirical", mean=sum(times) / len(times), values=times)
    mean = r.duration(raw, "mean")
    sd = r.duration(raw, "sd") if kind == "lognormal" else 0.0
    if kind == "lognormal" and (mean <= 0 or sd <= 0):
        raise r.fail('a lognormal service time needs "mean" and "sd" above zero')
    return model.ServiceTime(distribution=kind, mean=mean, sd=sd)

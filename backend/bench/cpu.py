"""CPU per request, in process: the app against the bare apps, timed with ``time.process_time``.

On a machine shared with other work, wall-clock rates measure the neighbours as much as the app; CPU time
spent by this process does not. Each app is driven directly through ASGI (no HTTP parsing, which both
would pay alike), alternately, with ``CONCURRENCY`` requests in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

CONCURRENCY = 16
Asgi = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[MutableMapping[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class Cpu:
    label: str
    app_us: float
    bare_us: float

    @property
    def ratio(self) -> float:
        """Bare CPU over the app's: 1.0 means the app costs what the bare app costs."""
        return self.bare_us / self.app_us


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 40000),
        "server": ("bench", 80),
    }


async def cpu_per_request(app: Asgi, path: str, headers: dict[str, str], requests: int) -> float:
    """Microseconds of this process's CPU per request; fails on any non-2xx answer."""
    scope = _scope(path, headers)
    failed: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and not 200 <= message["status"] < 300:
            failed.append(message["status"])

    async def worker(count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)

    await asyncio.gather(*(worker(max(1, requests // 10 // CONCURRENCY)) for _ in range(CONCURRENCY)))
    started = time.process_time()
    await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
    spent = time.process_time() - started
    if failed:
        raise RuntimeError(f"{path}: {len(failed)} non-2xx answers, e.g. {failed[0]}")
    return spent / (requests // CONCURRENCY * CONCURRENCY) * 1e6


async def compare(
    label: str,
    app: tuple[Asgi, str, dict[str, str]],
    bare: tuple[Asgi, str, dict[str, str]],
    *,
    requests: int = 3000,
    rounds: int = 2,
) -> Cpu:
    """The mean over ``rounds`` alternating runs of each."""
    app_runs, bare_runs = [], []
    for _ in range(rounds):
        bare_runs.append(await cpu_per_request(*bare, requests))
        app_runs.append(await cpu_per_request(*app, requests))
    return Cpu(label, sum(app_runs) / rounds, sum(bare_runs) / rounds)


def middleware_chain(app: Any) -> list[Any]:
    """The app's ASGI layers from the outermost down to the one that hands over to the router (FastAPI's
    ``AsyncExitStackMiddleware``, which the router needs in front of it)."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    chain, layer = [], app.middleware_stack
    while layer is not None and layer is not app.router:
        chain.append(layer)
        layer = getattr(layer, "app", None)
    return chain


async def layer_costs(app: Any, path: str, requests: int = 3000, rounds: int = 3) -> list[tuple[str, float]]:
    """Where a request's CPU goes: (layer, µs of its own), each entering the stack one layer further in
    and taking the difference (the minimum over alternating rounds, against a busy machine's noise).
    The last line is the router and the route (what a bare FastAPI app pays as well)."""
    chain = middleware_chain(app)
    runs: list[list[float]] = [[] for _ in chain]
    for _ in range(rounds):
        for index, layer in enumerate(chain):
            runs[index].append(await cpu_per_request(layer, path, {}, requests))
    entered = [min(run) for run in runs]
    names = [type(layer).__name__ for layer in chain]
    own = [(names[i], entered[i] - entered[i + 1]) for i in range(len(chain) - 1)]
    return [*own, (f"{names[-1]} + router + route", entered[-1])]

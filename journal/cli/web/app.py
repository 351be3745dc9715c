"""The Starlette app of ``journal serve``: three pages, a read-only JSON API, live events.

Routes (every one GET, which Starlette also answers for HEAD; any other method gets
405 from the guard below before a route is even looked at):

- ``/`` runs, ``/runs/RUN_ID`` one run, ``/costs`` costs: one HTML shell each, drawn
  in the browser by the bundled ``app.js`` from the API;
- ``/api/runs``, ``/api/runs/RUN_ID``, ``/api/costs``: exactly ``runs --json``,
  ``run --json`` and ``costs --json`` for the same options;
- ``/api/page/runs``, ``/api/page/runs/RUN_ID``: what the pages draw (a page of runs
  with costs; a run with prompts, costs and changes);
- ``/api/events``: server-sent events, the log's head each time it moves;
- ``/static/…``: the page's script, styles and charts, shipped in the wheel.

The log is opened read-only for each unit of work and closed after it (DESIGN §2).
Units run one at a time: LMDB allows one open of an environment per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from journal.cli.common import Context
from journal.errors import AmbiguousPrefixError, JournalError, NotFoundError, UsageError
from journal.home import LOG_DIR, resolve

from . import data
from .cache import PageCache
from .live import HeadWatch, event_stream
from .search import search_runs

if TYPE_CHECKING:
    from journal.store import LmdbJournal

__all__ = ["LOOPBACK_HOSTS", "create_app"]

T = TypeVar("T")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_PAGES = {"runs": "runs", "run": "run", "costs": "costs"}
_ALLOWED_METHODS = frozenset({"GET", "HEAD"})
_ENCODE = msgspec.json.Encoder().encode


class ReadOnly:
    """Answer 405 to every method but GET and HEAD, whatever the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _ALLOWED_METHODS:
            response = JSONResponse(
                {"error": "journal serve is read-only"},
                status_code=405,
                headers={"Allow": "GET, HEAD"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Journal:
    """Opens the log for one unit of work at a time and closes it after."""

    def __init__(self, home: str | None) -> None:
        self.context = Context(home)
        self.lock = threading.Lock()

    def __call__(self, work: Callable[[LmdbJournal], T]) -> T:
        with self.lock, self.context.open() as journal:
            return work(journal)

    def head(self) -> int:
        return self(lambda journal: journal.head())


def _static() -> str:
    return str(resources.files("journal.cli.web").joinpath("static"))


def _shell(page: str, prefetch: str | None) -> str:
    """The page's HTML, which asks for ``prefetch`` (its data) before its scripts load."""
    text = resources.files("journal.cli.web").joinpath("static", "page.html").read_text()
    early = json.dumps(prefetch).replace("<", "\\u003c")
    return text.replace("{{page}}", page).replace("{{prefetch}}", early)


def _prefetch(page: str, request: Request) -> str | None:
    if page == "runs":
        query = str(request.query_params)
        return "/api/page/runs" + (f"?{query}" if query else "")
    if page == "run":
        return "/api/page/runs/" + urllib.parse.quote(request.path_params["ident"], safe="")
    return None


def _error(exc: JournalError) -> JSONResponse:
    status = 500
    if isinstance(exc, AmbiguousPrefixError | UsageError):
        status = 400
    elif isinstance(exc, NotFoundError):
        status = 404
    return JSONResponse({"error": str(exc)}, status_code=status)


def _flag(q: Mapping[str, str], name: str) -> bool:
    return q.get(name, "") in {"1", "true", "yes", "on"}


def _idle(q: Mapping[str, str]) -> float | None:
    text = q.get("idle")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"idle must be a number of minutes, not {text!r}") from None
    if not value >= 0:
        raise UsageError(f"idle must be a number of minutes, not {text!r}")
    return value


def _int(q: Mapping[str, str], name: str, default: int, top: int) -> int:
    text = q.get(name)
    if not text:
        return default
    if not text.isdigit():
        raise UsageError(f"{name} must be a whole number, not {text!r}")
    return min(int(text), top)


def _opt(q: Mapping[str, str], name: str) -> str | None:
    return q.get(name) or None


def create_app(home: str | None, *, hosts: Sequence[str] = LOOPBACK_HOSTS) -> Starlette:
    """The app over the journal at ``home``; it answers only requests for ``hosts``
    (the Host header: a page on another site cannot read a loopback server through a
    DNS name that points at 127.0.0.1). ``["*"]`` answers every host."""
    journal = _Journal(home)
    data_file = os.path.join(resolve(home), LOG_DIR, "data.mdb")
    watch = HeadWatch(data_file, journal.head)
    cache = PageCache()

    async def answer(work: Callable[[], Any]) -> Response:
        try:
            found = await run_in_threadpool(work)
        except JournalError as exc:
            return _error(exc)
        return Response(_ENCODE(found), media_type="application/json")

    async def api_runs(request: Request) -> Response:
        def work() -> object:
            idle = _idle(request.query_params)
            status, source = (
                _opt(request.query_params, "status"),
                _opt(request.query_params, "source"),
            )
            return journal(lambda j: data.runs_json(j, status=status, source=source, idle=idle))

        return await answer(work)

    async def api_run(request: Request) -> Response:
        ident = request.path_params["ident"]

        def work() -> object:
            idle = _idle(request.query_params)
            return journal(lambda j: data.run_json(j, ident, idle=idle))

        return await answer(work)

    async def api_costs(request: Request) -> Response:
        q = request.query_params

        def work() -> object:
            return journal(
                lambda j: data.costs_json(
                    j,
                    by=q.get("by", "day"),
                    since=_opt(request.query_params, "since"),
                    until=_opt(request.query_params, "until"),
                    source=_opt(request.query_params, "source"),
                    tz=_opt(request.query_params, "tz"),
                    breakdown=_flag(request.query_params, "breakdown"),
                )
            )

        return await answer(work)

    def runs_page(q: Mapping[str, str]) -> object:
        words = _opt(q, "q")
        matching = search_runs(journal, words) if words else None
        return journal(
            lambda j: data.runs_page(
                j,
                status=_opt(q, "status"),
                source=_opt(q, "source"),
                project=_opt(q, "project"),
                day=_opt(q, "day"),
                matching=matching,
                offset=_int(q, "offset", 0, 10**9),
                limit=_int(q, "limit", data.PAGE_LIMIT, 1000),
            )
        )

    async def kept(request: Request, work: Callable[[], Any]) -> Response:
        """``answer`` through the page cache (``Cache-Control: no-cache`` skips it)."""
        key = request.url.path + "?" + "&".join(sorted(str(request.query_params).split("&")))
        head = watch.head
        fresh = "no-cache" in request.headers.get("cache-control", "")
        body = None if fresh else cache.get(key, head)
        if body is None:
            try:
                body = _ENCODE(await run_in_threadpool(work))
            except JournalError as exc:
                return _error(exc)
            cache.put(key, head, body)
        return Response(body, media_type="application/json")

    async def page_runs(request: Request) -> Response:
        return await kept(request, lambda: runs_page(request.query_params))

    async def page_run(request: Request) -> Response:
        ident = request.path_params["ident"]
        return await kept(request, lambda: journal(lambda j: data.run_page(j, ident)))

    async def events(request: Request) -> Response:
        return StreamingResponse(
            event_stream(watch),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def html(page: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            shell = _shell(page, _prefetch(page, request))
            return HTMLResponse(shell, headers={"Cache-Control": "no-store"})

        return endpoint

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watch.head = head = await asyncio.to_thread(journal.head)
        task = asyncio.create_task(watch.run())

        async def warm() -> None:  # the first screen of the runs page, before it is asked
            with contextlib.suppress(JournalError):
                body = _ENCODE(await run_in_threadpool(runs_page, {}))
                cache.put("/api/page/runs?", head, body)

        warming = asyncio.create_task(warm())
        try:
            yield
        finally:
            warming.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/", html(_PAGES["runs"])),
        Route("/runs/{ident:path}", html(_PAGES["run"])),
        Route("/costs", html(_PAGES["costs"])),
        Route("/api/runs", api_runs),
        Route("/api/runs/{ident:path}", api_run),
        Route("/api/costs", api_costs),
        Route("/api/page/runs", page_runs),
        Route("/api/page/runs/{ident:path}", page_run),
        Route("/api/events", events),
        Mount("/static", StaticFiles(directory=_static()), name="static"),
    ]
    middleware = [
        Middleware(ReadOnly),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts)),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

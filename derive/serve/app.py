"""The practice page as a Starlette app: routes, request checks, error pages. No math here.

    app = make_app(Config(sources=[...], db="attempts.sqlite"))

Pages: / (choose an exercise, type a name), /practice/{id}?student=&lang=&wrt= (one student's
variant), /teacher (attempts per student and exercise), /teacher/attempts.csv. JSON: GET /api/exercises,
POST /api/verify (the `derive verify --json` object), POST /api/read (the read-as preview).
derive's work runs in worker processes (serve.pool) with a time limit; attempts go to SQLite (serve.store).
POSTs must be JSON, at most MAX_BODY bytes, and same-origin (an Origin or Sec-Fetch-Site header
naming another site is refused), so another site's page cannot submit for a student.
"""
from __future__ import annotations

import contextlib
import json
import time
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import i18n
from ..limits import MAX_EXPRESSION_CHARS
from . import view
from .pool import Pool, TaskFailed, TaskTimeout, WorkerDied
from .store import Store

MAX_BODY = 16_384  # bytes of one POST
MAX_STUDENT = 80  # characters of a name or id
MAX_WRT = 60
PAGE_TIMEOUT = 120.0  # seconds to open a page: a new variant is solved and its figure compiled by LaTeX
HEADERS = {  # every response: no script, style, frame or image from anywhere else
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}


@dataclass
class Config:
    sources: list[str] = field(default_factory=list)  # problem files or built-in names; [] = the built-ins
    db: str = "attempts.sqlite"
    lang: str = "en"
    workers: int = 2
    timeout: float = 10.0  # seconds one verification may take


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _text(data: dict, key: str, limit: int, required: bool = True) -> str:
    value = data.get(key, "" if not required else None)
    if value is None:
        raise BadRequest(400, f"missing {key!r}: expected a string")
    if not isinstance(value, str):
        raise BadRequest(400, f"{key!r}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRequest(413, f"{key!r}: at most {limit} characters, got {len(value)}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\t\n" for c in value):
        raise BadRequest(400, f"{key!r}: control characters are not allowed")
    return value


def _script_json(data) -> str:
    """JSON safe inside a <script> element: no "<", ">" or "&" that could close it."""
    return (json.dumps(data, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def _key(eid: str, lang: str, student: str) -> str:
    """What a worker caches for a student: their variant of one exercise in one language."""
    return json.dumps([eid, lang, student])


def _student(value: str) -> str:
    return " ".join(value.split())


class Site:
    """The app's state: the worker pool, the attempt store and the exercise list."""

    def __init__(self, config: Config):
        self.config = config
        self.store = Store(config.db)
        self.pool = Pool(config.sources, workers=config.workers, timeout=config.timeout)
        self._exercises: dict[str, list[dict]] = {}  # lang -> the list (titles in that language)

    async def call(self, name: str, *args, key: str | None = None):
        """A task in a worker process, preferably one that has `key` (a student's variant) cached.
        Opening a page draws and solves the variant and compiles its figure: it gets PAGE_TIMEOUT."""
        limit = max(PAGE_TIMEOUT, self.config.timeout) if name in ("page", "exercises") else None
        return await anyio.to_thread.run_sync(lambda: self.pool.call(name, *args, key=key, timeout=limit))

    async def exercises(self, lang: str = "en") -> list[dict]:
        if lang not in self._exercises:
            self._exercises[lang] = await self.call("exercises", lang)
        return self._exercises[lang]

    async def exercise(self, eid: str) -> dict:
        for e in await self.exercises():
            if e["id"] == eid:
                return e
        raise BadRequest(404, f"no exercise {eid!r}; GET /api/exercises lists them")

    def lang(self, value) -> str:
        value = value or self.config.lang
        if value not in i18n.LANGUAGES:
            raise BadRequest(400, f"'lang': expected one of {', '.join(i18n.LANGUAGES)}, got {str(value)[:20]!r}")
        return value

    # ------------------------------------------------------------ JSON API

    async def _json_body(self, request: Request) -> dict:
        origin = request.headers.get("origin")
        own = request.headers.get("host", "")  # the scheme may differ behind a proxy; the host may not
        if (origin is not None and urlsplit(origin).netloc != own) or \
                request.headers.get("sec-fetch-site") == "cross-site":
            raise BadRequest(403, "cross-site requests are refused")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise BadRequest(415, "expected a JSON body (Content-Type: application/json)")
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            raise BadRequest(413, f"the request is larger than {MAX_BODY} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise BadRequest(413, f"the request is larger than {MAX_BODY} bytes")
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest(400, "expected a JSON object")
        return data

    async def _question(self, request: Request) -> tuple:
        data = await self._json_body(request)
        eid = _text(data, "problem", 100)
        await self.exercise(eid)
        wrt = _text(data, "wrt", MAX_WRT)
        answer = _text(data, "answer", MAX_EXPRESSION_CHARS)
        lang = self.lang(data.get("lang"))
        student = _student(_text(data, "student", MAX_STUDENT, required=False))
        return eid, wrt, answer, lang, student

    async def api_verify(self, request: Request) -> Response:
        eid, wrt, answer, lang, student = await self._question(request)
        start = time.perf_counter()
        verdict = await self.call("verify", eid, wrt, answer, lang, student, key=_key(eid, lang, student))
        ms = (time.perf_counter() - start) * 1000
        await anyio.to_thread.run_sync(lambda: self.store.add(student, eid, wrt, answer, verdict, lang, ms))
        return JSONResponse(verdict, status_code=422 if verdict.get("correct") is None else 200)

    async def api_read(self, request: Request) -> Response:
        eid, wrt, answer, lang, student = await self._question(request)
        shown = await self.call("read", eid, wrt, answer, lang, student, key=_key(eid, lang, student))
        if "read_as_tex" in shown:
            shown["mathml"] = str(view.mathml(shown["read_as_tex"]))
        return JSONResponse(shown, status_code=422 if "error" in shown else 200)

    async def api_exercises(self, request: Request) -> Response:
        return JSONResponse(await self.exercises(self.lang(request.query_params.get("lang"))))

    # ------------------------------------------------------------ pages

    def _html(self, template: str, lang: str, status: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(view.render(template, lang, **context), status_code=status)

    async def index(self, request: Request) -> Response:
        lang = self.lang(request.query_params.get("lang"))
        student = _student(request.query_params.get("student", ""))[:MAX_STUDENT]
        return self._html("index.html", lang, exercises=await self.exercises(lang), student=student)

    async def practice(self, request: Request) -> Response:
        eid = request.path_params["eid"]
        await self.exercise(eid)
        q = request.query_params
        lang = self.lang(q.get("lang"))
        student = _student(_text(dict(q), "student", MAX_STUDENT, required=False))
        wrt = _text(dict(q), "wrt", MAX_WRT, required=False) or None
        key = _key(eid, lang, student)
        p = await self.call("page", eid, student, lang, wrt, key=key)
        self.pool.spread("prepare", eid, lang, student, p["wrt"], key=key)  # the other workers solve it too
        setup = {"problem": eid, "wrt": p["wrt"], "student": student, "lang": lang,
                 "texts": {k: v for k, v in view.texts(lang).items()}}
        return self._html("page.html", lang, p=p, student=student, hints=view.hints_by_level(p["hints"]),
                          setup=_script_json(setup), other="ko" if lang == "en" else "en")

    async def teacher(self, request: Request) -> Response:
        lang = self.lang(request.query_params.get("lang"))
        rows = await anyio.to_thread.run_sync(self.store.summary)
        return self._html("teacher.html", lang, rows=rows)

    async def teacher_csv(self, request: Request) -> Response:
        text = await anyio.to_thread.run_sync(self.store.csv)
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="attempts.csv"'})


def make_app(config: Config) -> Starlette:
    site = Site(config)

    async def failed(request: Request, exc: Exception) -> Response:
        """Every error as one line: JSON for /api, a page otherwise; never a traceback. The page's own
        requests carry ?lang=, so what a student may see (a check stopped, a bug) is in their language."""
        lang = request.query_params.get("lang")
        lang = lang if lang in i18n.LANGUAGES else config.lang
        with i18n.language(lang):
            if isinstance(exc, BadRequest):
                status, message = exc.status, str(exc)
            elif isinstance(exc, HTTPException):
                status, message = exc.status_code, exc.detail
            elif isinstance(exc, TaskTimeout):
                status, message = 504, i18n._("the check took too long and was stopped ({reason})").format(reason=exc)
            elif isinstance(exc, (WorkerDied, TaskFailed)):
                status, message = 500, i18n._("internal error in derive: {error}").format(error=exc)
            else:
                status, message = 500, i18n._("internal error in derive: {error}").format(error=type(exc).__name__)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"ok": False, "error": message, "correct": None}, status_code=status)
        return HTMLResponse(view.render("error.html", lang, status=status, message=message), status_code=status)

    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response

    routes = [
        Route("/", site.index), Route("/practice/{eid}", site.practice),
        Route("/teacher", site.teacher), Route("/teacher/attempts.csv", site.teacher_csv),
        Route("/api/exercises", site.api_exercises), Route("/api/verify", site.api_verify, methods=["POST"]),
        Route("/api/read", site.api_read, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(view.HERE / "static")), name="static"),
    ]
    handlers = {Exception: failed, HTTPException: failed, BadRequest: failed, TaskTimeout: failed,
                WorkerDied: failed, TaskFailed: failed}
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        site.pool.close()
        site.store.close()

    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[Middleware(BaseHTTPMiddleware, dispatch=headers)])
    app.state.site = site
    return app

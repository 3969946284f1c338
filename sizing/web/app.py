"""`sizing serve`: the web calculator, an ASGI app (FastAPI) over the same library calls and renderers as the
command line. Requests are the library's pydantic request models; answers are `--json`'s objects and the
report module's documents; errors are the command line's one-line messages as HTTP 4xx."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import UploadFile

import sizing
from sizing import answers, report
from sizing import catalog as cat
from sizing.catalog import Catalog
from sizing.modelspec import from_hf_folder, parse_size
from sizing.modelspec.resolve import by_hf_repo
from sizing.report.procurement_format import templates_dir
from sizing.specs import RecommendRequest, SizingError
from sizing.specs import Request as EstimateRequest
from sizing.specs.requests import invalid_message

T = TypeVar("T")

MAX_CONFIG_BYTES = 1 << 20  # an uploaded config.json (real ones are under 20 KiB; a vision model's about 10 KiB)
MAX_BODY_BYTES = MAX_CONFIG_BYTES + (64 << 10)  # the upload plus its form fields
DEFAULT_TIMEOUT_S = 30.0  # a recommend over the whole catalog takes 1-3 s on one core
PAGE_ONLY = ("lang", "top")  # query keys the page reads that are not request fields
MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
TASKS = ("inference", "lora", "qlora", "full-finetune", "pretrain", "distill", "grpo", "ppo", "dpo")


class WebError(Exception):
    """A request the calculator refuses: the HTTP status and the one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 before the app reads it (by its
    Content-Length, or while it streams in without one)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(self.limit, send)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise WebError(413, _too_large_text(self.limit))
            return message

        try:
            await self.app(scope, limited, send)
        except WebError:
            await _too_large(self.limit, send)


def _too_large_text(limit: int) -> str:
    return f"the request is over {limit // 1024} KiB; a config.json is at most {MAX_CONFIG_BYTES // 1024} KiB"


async def _too_large(limit: int, send: Callable) -> None:
    body = json.dumps({"error": _too_large_text(limit)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def web_model(name: str, catalog: Catalog) -> str:
    """The model a web user named, as a catalog id or a size: the calculator reads no file on the server, so a
    path is refused (an uploaded config.json is the way to size one's own model)."""
    text = name.strip()
    key = text.lower()
    if key in catalog.models or key in catalog.aliases["models"]:
        return catalog.model(key).id
    if (row := by_hf_repo(key, catalog)) is not None:
        return row.id
    if parse_size(key) is not None and "/" not in text:
        return key
    if "/" in text or "\\" in text or text.startswith((".", "~")):
        raise WebError(
            422,
            f"'{text[:80]}' names a path or a repository the catalog lacks; the web calculator reads no files on "
            "the server: upload the model's config.json instead",
        )
    return catalog.model(key).id  # raises 'unknown model' with the closest names


def request_fields(params: Mapping[str, Any], model_type: type[EstimateRequest]) -> dict[str, Any]:
    """The request fields among a form's or a body's keys; empty form fields take their defaults; a key that
    is no field is refused, as the command line refuses an unknown option."""
    fields = model_type.model_fields
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in PAGE_ONLY or key == "config_json":
            continue
        if key not in fields:
            raise WebError(422, f"unknown field '{key[:40]}'; the fields are the request's: see /docs")
        if isinstance(value, str) and value.strip() == "":
            continue
        if fields[key].annotation is bool and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "on", "yes")
        out[key] = value
    return out


def _config_model(config: bytes | str | dict, catalog: Catalog) -> Catalog:
    """The catalog with the model of an uploaded config.json added (id `upload`), read by the same reader as a
    local folder's, from a temporary folder that holds nothing else."""
    raw = config if isinstance(config, bytes) else (config if isinstance(config, str) else json.dumps(config))
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_CONFIG_BYTES:
        raise WebError(413, f"config.json is {len(data):,} bytes; the calculator takes at most {MAX_CONFIG_BYTES:,}")
    with tempfile.TemporaryDirectory(prefix="sizing-upload-") as folder:
        (Path(folder) / "config.json").write_bytes(data)
        try:
            spec = from_hf_folder(Path(folder))
        except SizingError as exc:  # the reader names the file by its path: the user knows it as config.json
            raise WebError(
                422, str(exc).replace(str(Path(folder) / "config.json"), "config.json").replace(folder, "the upload")
            ) from None
    spec = spec.model_copy(update={"id": "upload", "name": f"{spec.name} (uploaded config.json)", "aliases": ()})
    return catalog.model_copy(update={"models": {**catalog.models, "upload": spec}})


def build_request(
    params: Mapping[str, Any], catalog: Catalog, model_type: type[T], config: bytes | str | dict | None = None
) -> tuple[T, Catalog]:
    """A validated request (the same pydantic model as the command line's) and the catalog to answer it on."""
    fields = request_fields(params, model_type)  # type: ignore[arg-type]
    if config is not None:
        catalog = _config_model(config, catalog)
        fields["model"] = "upload"
    else:
        for key in ("model", "teacher"):
            if key in fields:
                fields[key] = web_model(str(fields[key]), catalog)
    return model_type.model_validate(fields), catalog  # type: ignore[attr-defined]


def _error(exc: Exception) -> WebError:
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, ValidationError):
        return WebError(422, invalid_message(exc))
    return WebError(422, str(exc))


def _query(values: Mapping[str, str]) -> str:
    return urlencode([(k, v) for k, v in values.items() if k != "config_json" and str(v).strip()])


class Calculator:
    """What every route shares: the catalog (loaded once), the form's choices and the time bound."""

    def __init__(self, data: Path | None, timeout_s: float) -> None:
        self.catalog = cat.load(data)
        self.timeout_s = timeout_s
        c = self.catalog
        self.choices = {
            "models": tuple(sorted(c.models)),
            "gpus": tuple(sorted(c.gpus)),
            "precisions": tuple(sorted(c.precisions)),
            "engines": ("", *sorted(c.engines)),
            "tasks": TASKS,
            "currencies": ("USD", *sorted(k.upper() for k in c.fx if k.upper() != "USD")),
            "circuits": ("", *sorted(c.circuits)),
            "form_factors": ("", "tower", "rack"),
            "objectives": ("cost", "speed", "cost-per-token"),
            "langs": ("en", "zh"),
        }

    async def bounded(self, fn: Callable[[], T]) -> T:
        """The library call in a worker thread, answered within `timeout_s` (a 504 past it; the thread finishes
        its call in the background, within the server's thread pool)."""
        try:
            return await asyncio.wait_for(run_in_threadpool(fn), self.timeout_s)
        except asyncio.TimeoutError:
            raise WebError(
                504,
                f"the answer took over {self.timeout_s:.0f} s; narrow the request (--gpu, --max-gpus, --form-factor)",
            ) from None

    def answer_html(self, values: Mapping[str, str], config: bytes | None = None) -> str:
        lang = report.parse_lang(values.get("lang") or "en")
        req, on = build_request(values, self.catalog, RecommendRequest, config)
        found = answers.recommend(on, req)
        options = report.ReportOptions(date=dt.date.today().isoformat(), command=None, data=None)
        text = answers.recommendation_text(found, lang=lang)
        return report.web_answer(found, text, lang, _query(values) if config is None else "", options)

    def page(self, values: Mapping[str, str], lang: str, status: int = 200, **kw: Any) -> HTMLResponse:
        return HTMLResponse(report.web_page(dict(values), self.choices, lang, **kw), status_code=status)

    async def answer_page(self, values: dict[str, str], config: bytes | None = None) -> HTMLResponse:
        lang = "zh" if values.get("lang") == "zh" else "en"
        if "model" not in values and config is None:
            return self.page(values, lang)
        try:
            html = await self.bounded(lambda: self.answer_html(values, config))
        except (SizingError, ValidationError, WebError) as exc:
            err = _error(exc)
            return self.page(values, lang, err.status, error=str(err))
        return self.page(values, lang, answer_html=html)


def _errors(app: FastAPI) -> None:
    """Every refusal as JSON `{"error": one line}` with a 4xx (5xx only for the time bound)."""

    @app.exception_handler(WebError)
    async def _web_error(_: Request, exc: WebError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(SizingError)
    async def _sizing_error(_: Request, exc: SizingError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(ValidationError)
    async def _invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"error": invalid_message(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)


def _pages(app: FastAPI, calc: Calculator) -> None:
    """The page (GET: the request in the URL; POST: a config.json upload) and its answer block."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        return await calc.answer_page(dict(request.query_params))

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    async def upload(request: Request) -> HTMLResponse:
        """The page's upload form: a config.json (at most 1 MiB) and the other fields, answered as a page."""
        async with request.form(max_files=1, max_fields=len(calc.choices) + 32) as form:
            values = {k: v for k, v in form.items() if isinstance(v, str)}
            file = form.get("config")
            config = await file.read(MAX_CONFIG_BYTES + 1) if isinstance(file, UploadFile) else b""
        lang = "zh" if values.get("lang") == "zh" else "en"
        if len(config) > MAX_CONFIG_BYTES:
            message = f"config.json is over {MAX_CONFIG_BYTES:,} bytes; upload the model's config.json alone"
            return calc.page(values, lang, 413, error=message)
        if not config:
            return calc.page(values, lang, 422, error="no config.json was uploaded; choose the file, or use the form")
        return await calc.answer_page(values, config)

    @app.get("/fragment", response_class=HTMLResponse, include_in_schema=False)
    async def fragment(request: Request) -> HTMLResponse:
        values = dict(request.query_params)
        try:
            return HTMLResponse(await calc.bounded(lambda: calc.answer_html(values)))
        except (SizingError, ValidationError, WebError) as exc:
            err = _error(exc)
            return HTMLResponse(report.web_error(str(err), values.get("lang") or "en"), status_code=err.status)


def _api(app: FastAPI, calc: Calculator) -> None:
    """The JSON API and the report downloads."""
    catalog = calc.catalog

    @app.post("/api/recommend")
    async def api_recommend(body: dict[str, Any]) -> JSONResponse:
        """The same fields as `sizing recommend`'s options (RecommendRequest), the same JSON as its `--json`;
        `config_json` (an object or its text, at most 1 MiB) sizes an uploaded config.json instead of `model`."""
        req, on = build_request(body, catalog, RecommendRequest, body.get("config_json"))
        found = await calc.bounded(lambda: answers.recommend(on, req))
        return JSONResponse(answers.recommendation_json(found))

    @app.post("/api/estimate")
    async def api_estimate(body: dict[str, Any]) -> JSONResponse:
        """The same fields as `sizing estimate`'s options (Request), the same JSON as its `--json`."""
        req, on = build_request(body, catalog, EstimateRequest, body.get("config_json"))
        return JSONResponse(await calc.bounded(lambda: answers.estimate_json(on, req)))

    @app.get("/api/models")
    async def api_models(q: str = "") -> list[dict]:
        """The model catalog (`sizing models --json`), filtered by `q`."""
        key = q.lower()
        return [
            report.model_json(m) for m in catalog.models.values() if key in " ".join((m.id, m.name, *m.aliases)).lower()
        ]

    @app.get("/api/gpus")
    async def api_gpus(q: str = "") -> list[dict]:
        """The GPU catalog (`sizing gpus`), filtered by `q`."""
        return [report.gpu_json(g) for g in catalog.gpus.values() if q.lower() in (g.id + g.name).lower()]

    @app.get("/report.{fmt}")
    async def report_file(fmt: str, request: Request) -> Response:
        """The procurement report of the request in the query (the fields of /api/recommend), rendered by the
        report module (`sizing report`)."""
        values = dict(request.query_params)
        key = report.parse_format(fmt, None)
        lang = report.parse_lang(values.get("lang") or "en")
        req, on = build_request(values, catalog, RecommendRequest)

        def render() -> bytes:
            found = answers.recommend(on, req)
            options = report.ReportOptions(date=dt.date.today().isoformat(), command=None, data=None)
            return report.render_bytes(found, key, lang, options)

        body = await calc.bounded(render)
        headers = {"Content-Disposition": f'inline; filename="sizing-{req.model}.{key}"'}
        return Response(body, media_type=MEDIA.get(key, "application/octet-stream"), headers=headers)


def create_app(data: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> FastAPI:
    """The calculator over the catalog in `data` (default: the bundled one), loaded once."""
    calc = Calculator(data, timeout_s)
    app = FastAPI(
        title="sizing",
        version=sizing.__version__,
        description="AI server sizing: the same answers as the `sizing` command line (see README.md).",
    )
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.mount("/static", StaticFiles(directory=str(templates_dir() / "web" / "static")), name="static")
    _errors(app)
    _pages(app, calc)
    _api(app, calc)
    return app

"""The sandbox's routes: pages rendered by Jinja2 (autoescaped), a small JSON API for the script.

Pages: ``/`` (the experiments and the runs already made), ``/experiments/{name}`` (the knobs,
a run, its results, two runs side by side) and ``/audit`` (your own file). Every request that
acts (a run, a cancel, an upload, a comparison) carries the tab's session token in the
``X-Sandbox-Session`` header: a custom header that another site's page cannot send without
the browser asking first, and which keeps one tab's runs out of another's lists. Runs and
uploads are looked up by random ids; no value from a page is ever a path.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from experiments.errors import UsageError
from experiments.serve.catalogue import card_html, shipped_experiments
from experiments.serve.controls import PAGE_MAX_SIZE, FormError, experiment_page, read_submission
from experiments.serve.jobs import JobQueue
from experiments.serve.results import (
    RunIndex,
    comparison_summary,
    read_manifest,
    read_run,
    run_summary,
    zip_run,
)
from experiments.serve.uploads import MAX_UPLOAD_BYTES, UploadError, UploadStore

#: A tab's session token: 32 hex digits from the browser's random source.
SESSION_PATTERN = re.compile(r"[0-9a-f]{32}")
#: Every page loads scripts and styles from this server only, and runs no inline script, so
#: text that slipped into a page could not run.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
#: A run's report.html is one self-contained file with its own inline script (sorting
#: tables); it may run that, and fetch nothing.
REPORT_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                 "img-src data:; base-uri 'none'; frame-ancestors 'none'")


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("experiments.serve", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    )
    environment.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    return environment


def create_app(results_dir: Path, allowed_hosts: list[str] | None = None) -> Starlette:
    """Build the sandbox's application.

    Parameters
    ----------
    results_dir : Path
        Where runs are written and existing runs are listed from.
    allowed_hosts : list of str, optional
        Host names the server answers to (a guard against DNS rebinding); default the
        loopback names.

    Returns
    -------
    Starlette
    """
    results_dir = Path(results_dir)
    templates = _templates()
    jobs = JobQueue(results_dir)
    index = RunIndex(results_dir)
    uploads = UploadStore()

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code,
                            headers={"Content-Security-Policy": PAGE_POLICY})

    def session(request: Request) -> str:
        token = request.headers.get("x-sandbox-session", "")
        if not SESSION_PATTERN.fullmatch(token):
            raise HTTPException(400, "missing or malformed X-Sandbox-Session header")
        return token

    def made_here() -> set[Path]:
        return set(jobs.directories())

    def run_folder(run_id: str, owner: str | None = None) -> Path:
        """A run's folder by id: a run made here (for its tab when ``owner`` is given), or an
        existing run's public id."""
        job = jobs.get(run_id, owner)
        if job is not None and job.status == "done":
            return job.target
        folder = index.find_existing(run_id, made_here())
        if folder is None:
            raise HTTPException(404, "no such run")
        return folder

    async def home(request: Request) -> Response:
        experiments = [e for e in shipped_experiments().values() if not e.is_sweep]
        sweeps = [e for e in shipped_experiments().values() if e.is_sweep]
        cards = {e.system: Markup(card_html(e.system)) for e in experiments}  # noqa: S704
        runs = await run_in_threadpool(index.existing, made_here())
        return page("home.html.j2", experiments=experiments, sweeps=sweeps, cards=cards,
                    runs=runs, titles={e.name: e.title for e in experiments})

    async def experiment(request: Request) -> Response:
        name = request.path_params["name"]
        shipped = shipped_experiments().get(name)
        if shipped is None or shipped.is_sweep:
            raise HTTPException(404, "no such experiment")
        built = await run_in_threadpool(experiment_page, name)
        controls = {c.key: {"kind": c.kind, "off": c.off, "knob": c.is_knob, "id": c.dom_id}
                    for c in built.controls}
        return page("experiment.html.j2", experiment=shipped, built=built,
                    sections=built.sections(), defaults=built.defaults(),
                    page_controls=controls,
                    card=Markup(card_html(shipped.system)),  # noqa: S704 - shipped text
                    max_size=PAGE_MAX_SIZE)

    async def audit_page(request: Request) -> Response:
        return page("audit.html.j2", max_mb=MAX_UPLOAD_BYTES // 2**20)

    async def start_run(request: Request) -> Response:
        owner = session(request)
        name = request.path_params["name"]
        shipped = shipped_experiments().get(name)
        if shipped is None or shipped.is_sweep:
            raise HTTPException(404, "no such experiment")
        try:
            submitted = await request.json()
        except ValueError:
            return JSONResponse({"errors": {"": "send the controls as JSON"}}, 400)
        if not isinstance(submitted, dict):
            return JSONResponse({"errors": {"": "send the controls as a JSON object"}}, 400)
        built = await run_in_threadpool(experiment_page, name)
        try:
            config, path, attribution, overrides = await run_in_threadpool(
                read_submission, built, submitted)
        except FormError as error:
            return JSONResponse({"errors": error.errors}, 422)
        try:
            job = jobs.submit(owner, name, config, path, attribution, overrides)
        except RuntimeError as error:
            return JSONResponse({"errors": {"": str(error)}}, 429)
        return JSONResponse(job.public(), 202)

    async def job_status(request: Request) -> Response:
        job = jobs.get(request.path_params["job"], session(request))
        if job is None:
            raise HTTPException(404, "no such run")
        return JSONResponse(job.public())

    async def cancel_job(request: Request) -> Response:
        job = jobs.cancel(request.path_params["job"], session(request))
        if job is None:
            raise HTTPException(404, "no such run")
        return JSONResponse(job.public())

    async def session_runs(request: Request) -> Response:
        owner = session(request)
        name = request.path_params["name"]
        own = [j.public() for j in jobs.of_owner(owner) if j.experiment == name]
        existing = [{k: v for k, v in run.items() if k != "directory"}
                    for run in await run_in_threadpool(index.existing, made_here())
                    if run["experiment"] == name]
        return JSONResponse({"own": own, "existing": existing})

    async def run_result(request: Request) -> Response:
        folder = run_folder(request.path_params["run"], session(request))
        try:
            summary = await run_in_threadpool(lambda: run_summary(read_run(folder)))
        except UsageError as error:
            return JSONResponse({"error": str(error)}, 409)
        return JSONResponse(summary)

    async def report(request: Request) -> Response:
        folder = run_folder(request.path_params["run"])
        manifest = read_manifest(folder)
        if manifest is None or "report.html" not in manifest.get("files", {}):
            raise HTTPException(404, "this run has no report")
        html = (folder / "report.html").read_bytes()
        return Response(html, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": REPORT_POLICY})

    async def download(request: Request) -> Response:
        folder = run_folder(request.path_params["run"])
        try:
            data = await run_in_threadpool(zip_run, folder)
        except UsageError as error:
            raise HTTPException(404, str(error)) from None
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{folder.parent.name}-{folder.name}.zip")
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def compare(request: Request) -> Response:
        owner = session(request)
        try:
            body = await request.json()
            first, second = str(body["a"]), str(body["b"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "send {\"a\": run id, \"b\": run id}"}, 400)
        folders = run_folder(first, owner), run_folder(second, owner)
        try:
            summary = await run_in_threadpool(comparison_summary, *folders)
        except UsageError as error:
            return JSONResponse({"error": str(error)}, 409)
        return JSONResponse(summary)

    async def upload(request: Request) -> Response:
        owner = session(request)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return JSONResponse({"error": _too_large()}, 413)
        try:
            stored = uploads.kind_of(unquote(request.headers.get("x-file-name", "")))
        except UploadError as error:
            return JSONResponse({"error": str(error)}, 415)
        folder = uploads.new_folder()
        written = 0
        try:
            with (folder / stored).open("wb") as handle:
                async for chunk in request.stream():
                    written += len(chunk)
                    if written > MAX_UPLOAD_BYTES:
                        raise UploadError(_too_large())
                    handle.write(chunk)
            if written == 0:
                raise UploadError("the file is empty")
            item = await run_in_threadpool(uploads.add, owner, folder, stored)
        except UploadError as error:
            shutil.rmtree(folder, ignore_errors=True)
            status = 413 if written > MAX_UPLOAD_BYTES else 415
            return JSONResponse({"error": str(error)}, status)
        return JSONResponse({"id": item.id, "columns": item.columns})

    async def audit_upload(request: Request) -> Response:
        owner = session(request)
        item = uploads.get(request.path_params["upload"], owner)
        if item is None:
            raise HTTPException(404, "no such upload (it may have expired; upload it again)")
        try:
            body = await request.json()
            groups = [str(g) for g in body.get("groups", [])]
            y_true, y_pred = str(body["y_true"]), str(body["y_pred"])
            score = str(body["score"]) if body.get("score") else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"error": "choose the group, true-outcome and decision "
                                          "columns"}, 400)
        try:
            result = await run_in_threadpool(uploads.audit, item, groups, y_true, y_pred, score)
        except UploadError as error:
            return JSONResponse({"error": str(error)}, 422)
        return JSONResponse(result)

    async def audit_download(request: Request) -> Response:
        # A plain link (no header): the upload's random id is what opens it.
        item = uploads.find(request.path_params["upload"])
        if item is None or item.result_zip is None:
            raise HTTPException(404, "no such audit")
        return Response(item.result_zip, media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="audit.zip"'})

    async def not_found(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": error.detail}, error.status_code)
        return page("error.html.j2", status_code=error.status_code, message=error.detail)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(jobs.shutdown)
        uploads.clear()

    routes = [
        Route("/", home),
        Route("/experiments/{name}", experiment),
        Route("/audit", audit_page),
        Route("/runs/{run}/report.html", report),
        Route("/runs/{run}/download", download),
        Route("/api/experiments/{name}/runs", start_run, methods=["POST"]),
        Route("/api/experiments/{name}/runs", session_runs, methods=["GET"]),
        Route("/api/jobs/{job}", job_status),
        Route("/api/jobs/{job}/cancel", cancel_job, methods=["POST"]),
        Route("/api/runs/{run}", run_result),
        Route("/api/compare", compare, methods=["POST"]),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/uploads/{upload}/audit", audit_upload, methods=["POST"]),
        Route("/api/uploads/{upload}/download", audit_download, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("experiments.serve", "static")]),
              name="static"),
    ]
    hosts = allowed_hosts or ["127.0.0.1", "localhost"]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                    exception_handlers={HTTPException: not_found})
    app.state.jobs = jobs
    return app


def _too_large() -> str:
    return f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB, the page's limit"

"""The review web app: a list with filters, one page per item with its evidence, and three decisions.

Server-rendered Jinja pages (autoescaped: every text is untrusted), one small script for keyboard
review, forms that work without it. A decision is a POST that is checked (access, origin, CSRF),
recorded in the reviews log (which refuses stale pages and runs being written) and answered with a
redirect to the next item of the list the reviewer was working through.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from benchmaker.config import LETTERS, format_validation_error
from benchmaker.errors import BenchmakerError
from benchmaker.review.liveness import RunBeingWritten
from benchmaker.review.log import ReviewRefused, StaleDecision
from benchmaker.review.models import MAX_NOTE, REJECT_REASONS, ItemContent, reviewer_problem
from benchmaker.review.security import ACCESS_COOKIE, HEADERS, REVIEWER_COOKIE, SESSION_COOKIE, Security, new_session
from benchmaker.review.source import ReviewSource, SourceItem
from benchmaker.review.stats import review_summary
from benchmaker.review.views import DIFFICULTY_BUCKETS, LEVEL_MEANINGS, Filters, ItemView, pretty_json

HERE = Path(__file__).resolve().parent
NOT_RECORDED = "nothing was recorded"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(LETTERS=LETTERS, REJECT_REASONS=REJECT_REASONS, MAX_NOTE=MAX_NOTE)
    env.filters["pretty"] = pretty_json
    return env


def default_reviewer() -> str:
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        name = "reviewer"
    return name if reviewer_problem(name) is None else "reviewer"


def create_app(source: ReviewSource, security: Security, reviewer: str | None = None) -> FastAPI:
    env = _environment()
    fallback_reviewer = reviewer or default_reviewer()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # -- guard: host, access token, session cookie, headers ----------------------------------------

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host")
        if not security.host_ok(host):
            response: Response = _plain(400, "unknown Host header: open the address benchmaker review printed")
        elif security.access_token is not None and security.token_ok(request.query_params.get("token")):
            params = {k: v for k, v in request.query_params.items() if k != "token"}
            path = "/" + request.url.path.lstrip("/")  # never "//host": that would leave this server
            response = RedirectResponse(path + (f"?{urlencode(params)}" if params else ""), 303)
            response.set_cookie(ACCESS_COOKIE, security.access_token, httponly=True, samesite="strict")
        elif not security.access_ok(request.cookies.get(ACCESS_COOKIE)):
            response = _plain(403, "this review server needs its access token: open the URL benchmaker review printed")
        else:
            response = await call_next(request)
            if not request.cookies.get(SESSION_COOKIE):
                session = request.state.session if hasattr(request.state, "session") else new_session()
                response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        for name, value in HEADERS.items():
            response.headers[name] = value
        return response

    def session_of(request: Request) -> str:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            session = getattr(request.state, "session", None) or new_session()
            request.state.session = session
        return session

    def reviewer_of(request: Request) -> str:
        name = unquote(request.cookies.get(REVIEWER_COOKIE) or "")
        return name if name and reviewer_problem(name) is None else fallback_reviewer

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            source=source,
            csrf=security.csrf_for(session_of(request)),
            reviewer=reviewer_of(request),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(request: Request, status: int, title: str, message: str, back: str = "/") -> HTMLResponse:
        return page(request, "error.html", status=status, title=title, message=message, back=back)

    # -- reading -----------------------------------------------------------------------------------

    def rows(filters: Filters) -> tuple[list[SourceItem], dict[str, Any], list[tuple[SourceItem, Any]]]:
        items = source.items()
        states = source.states()
        shown = [(item, states[item.item_id]) for item in items if filters.matches(item, states[item.item_id])]
        return items, states, shown

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        filters = Filters.parse(request.query_params)
        items, states, shown = rows(filters)
        summary = review_summary((item.key_evidence, states[item.item_id]) for item in items)
        return page(
            request,
            "list.html",
            filters=filters,
            shown=shown,
            summary=summary,
            levels=sorted({item.key_evidence for item in items}),
            flags=sorted({flag for item in items for flag in item.flags}),
            buckets=DIFFICULTY_BUCKETS,
            meanings=LEVEL_MEANINGS,
            notice=_notice(request),
        )

    def neighbours(position: int, filters: Filters, *, wrap: bool) -> tuple[int | None, int | None, int, int]:
        """The previous and next matching positions around ``position``, its place and the list's length."""
        _, _, shown = rows(filters)
        positions = [item.position for item, _ in shown]
        before = [p for p in positions if p < position]
        after = [p for p in positions if p > position]
        nxt = after[0] if after else (before[0] if wrap and before else None)
        place = len(before) + (1 if position in positions else 0)
        return (before[-1] if before else None), nxt, place, len(positions)

    @app.get("/item/{position}", response_class=HTMLResponse)
    def item_page(request: Request, position: int) -> Response:
        items = source.items()
        if not 1 <= position <= len(items):
            return error(request, 404, "No such item", f"there is no item {position} (the list has {len(items)})")
        filters = Filters.parse(request.query_params)
        item = items[position - 1]
        state = source.states()[item.item_id]
        prev, nxt, place, total = neighbours(position, filters, wrap=False)
        return page(
            request,
            "item.html",
            item=item,
            state=state,
            evidence=ItemView(item, state).evidence(),
            filters=filters,
            prev=prev,
            next=nxt,
            place=place,
            total=total,
            count=len(items),
            notice=_notice(request),
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/rejections", response_class=HTMLResponse)
    def rejections(request: Request) -> Response:
        return page(request, "rejections.html", rejections=source.rejections())

    # -- writing -----------------------------------------------------------------------------------

    async def checked_form(request: Request) -> dict[str, str] | Response:
        if not security.origin_ok(request.headers.get("origin"), request.headers.get("host")):
            return error(request, 403, "Refused", f"a form from another site was refused; {NOT_RECORDED}")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not security.csrf_ok(request.cookies.get(SESSION_COOKIE), fields.get("csrf")):
            return error(
                request,
                403,
                "Refused",
                "the form carries no valid CSRF token (a page from another site, or one opened before this "
                f"server was restarted); reload the page and decide again; {NOT_RECORDED}",
            )
        return fields

    @app.post("/item/{position}/decide")
    async def decide(request: Request, position: int) -> Response:
        fields = await checked_form(request)
        if isinstance(fields, Response):
            return fields
        filters = Filters.parse(_prefixed(fields, "f_"))
        here = f"/item/{position}" + (f"?{filters.query()}" if filters.query() else "")
        items = source.items()
        if not 1 <= position <= len(items) or items[position - 1].item_id != fields.get("item_id"):
            return error(request, 409, "Item moved", f"item {position} is not the one this page showed; {NOT_RECORDED}")
        item = items[position - 1]
        action = fields.get("action", "")
        if action not in ("accept", "reject", "correct"):
            return error(request, 400, "Unknown action", f"unknown action {action!r}; {NOT_RECORDED}", here)
        try:
            after = _corrected(fields, item) if action == "correct" else None
            decision = source.log.decide(
                item_id=item.item_id,
                original=item.content,
                reviewer=reviewer_of(request),
                action=action,
                based_on=fields.get("based_on") or None,
                reason=(fields.get("reason") or None) if action == "reject" else None,
                note=fields.get("note", "")[:MAX_NOTE],
                after=after,
            )
        except StaleDecision as refused:
            return error(request, 409, "Decided since you opened this page", str(refused), here)
        except RunBeingWritten as refused:
            return error(request, 423, "Run being written", str(refused), here)
        except ReviewRefused as refused:
            return error(request, 400, "Not recorded", str(refused), here)
        except ValidationError as invalid:
            return error(request, 400, "Not recorded", f"{format_validation_error(invalid)}; {NOT_RECORDED}", here)
        except BenchmakerError as failed:
            return error(request, 500, "Not recorded", str(failed), here)
        _, nxt, _, _ = neighbours(position, filters, wrap=True)
        query = {**filters.model_dump(exclude_defaults=True), "did": decision.action, "from": position}
        target = f"/item/{nxt}" if nxt is not None and nxt != position else "/"
        return RedirectResponse(f"{target}?{urlencode(query)}", status_code=303)

    @app.post("/reviewer")
    async def set_reviewer(request: Request) -> Response:
        fields = await checked_form(request)
        if isinstance(fields, Response):
            return fields
        name = fields.get("reviewer", "").strip()
        if (problem := reviewer_problem(name)) is not None:
            return error(request, 400, "Reviewer name refused", problem)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(REVIEWER_COOKIE, quote(name), httponly=True, samesite="strict")
        return response

    return app


def _plain(status: int, message: str) -> Response:
    return Response(f"error: {message}\n", status_code=status, media_type="text/plain; charset=utf-8")


def _prefixed(fields: dict[str, str], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix): v for k, v in fields.items() if k.startswith(prefix)}


def _notice(request: Request) -> str:
    """A fixed sentence for the decision just made (the query names it; no text of the query is shown)."""
    did = request.query_params.get("did")
    position = request.query_params.get("from", "")
    place = f"item {position}" if position.isdigit() else "the item"
    return {
        "accept": f"Accepted {place}.",
        "reject": f"Rejected {place}.",
        "correct": f"Corrected {place}: a new revision.",
    }.get(did or "", "")


def _corrected(fields: dict[str, str], item: SourceItem) -> ItemContent:
    """The content a correction form describes: question, as many options as the item has, the key."""
    n = len(item.content.choices)
    answer = fields.get("answer", "")
    if answer not in LETTERS[:n]:
        raise ReviewRefused(f"the key must be one of {', '.join(LETTERS[:n])}; {NOT_RECORDED}")
    return ItemContent(
        question=fields.get("question", "").strip(),
        choices=[fields.get(f"choice_{i}", "").strip() for i in range(n)],
        answer_index=LETTERS.index(answer),
    )

"""The review screen's web app: Starlette, Jinja2 templates, htmx (served from ``static/``).

Bound to 127.0.0.1 unless told otherwise, answering only requests addressed to a local
name; on any other address a token is required and checked on every request
(``TokenMiddleware``). Every POST carries the CSRF token of
``starlette_csrf`` (a signed double-submit cookie, sent back by ``static/review.js`` in
the ``x-csrftoken`` header of each htmx request).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_csrf import CSRFMiddleware

from rebalance_pipeline.audit import explain
from rebalance_pipeline.audit.batches import AuditError
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.review.records import DecisionRecordError
from rebalance_pipeline.review_screen.desk import ReviewDesk, still_queued_lines
from rebalance_pipeline.review_screen.screen import (
    ACCOUNT_DECISIONS,
    TRADE_DECISIONS,
    ReviewScreen,
    ScreenError,
)

HERE = Path(__file__).parent
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_COOKIE = "review_token"
TOKEN_HEADER = "x-review-token"
templates = Jinja2Templates(directory=HERE / "templates")


class ServeError(ValueError):
    """A server the options do not allow (another address without a token)."""


class TokenMiddleware:
    """Refuse every request without the access token: ``?token=`` (which then sets an
    HttpOnly, SameSite=Strict cookie), the ``x-review-token`` header or that cookie."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = (
            request.query_params.get("token")
            or request.headers.get(TOKEN_HEADER)
            or request.cookies.get(TOKEN_COOKIE)
            or ""
        )
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            await PlainTextResponse("a valid access token is required", 401)(scope, receive, send)
            return
        if request.query_params.get("token"):
            response = Response(status_code=303, headers={"location": request.url.path})
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    desk: ReviewDesk,
    *,
    token: str | None = None,
    allowed_hosts: list[str] | None = None,
    csrf_secret: str | None = None,
) -> Starlette:
    """The review app of ``desk``'s date; ``token`` required on every request when given,
    and when ``allowed_hosts`` are given a request naming another host is refused (a
    page of another site whose name resolves to 127.0.0.1 cannot use the app)."""
    screen = ReviewScreen(desk)

    def page(request: Request, template: str, **context: object) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            template,
            {
                "day": desk.day,
                "screen": screen,
                "account_decisions": ACCOUNT_DECISIONS,
                "trade_decisions": TRADE_DECISIONS,
                **context,
            },
        )

    def account_part(request: Request, account_id: str, error: str | None = None) -> Response:
        view = screen.account(account_id)
        if view is None:
            return PlainTextResponse(f"{account_id} is not in the open queue", 404)
        return page(request, "_account.html", account=view, expanded=True, error=error)

    async def queue(request: Request) -> Response:
        return page(request, "queue.html")

    async def account(request: Request) -> Response:
        return account_part(request, request.path_params["account_id"])

    def after(request: Request, account_id: str, decide: Callable[[], None]) -> Response:
        """The account's part once ``decide`` drafted a decision (its error shown there);
        404 for an account or trade the queue does not hold."""
        try:
            decide()
        except KeyError:
            return PlainTextResponse(
                f"no such account or trade in the open queue: {account_id}", 404
            )
        except ScreenError as exc:
            return account_part(request, account_id, str(exc))
        return account_part(request, account_id)

    async def decide_account(request: Request) -> Response:
        account_id = request.path_params["account_id"]
        form = await request.form()
        decision, note = str(form.get("decision", "")), str(form.get("note", ""))
        return after(request, account_id, lambda: screen.decide_rest(account_id, decision, note))

    async def decide_trade(request: Request) -> Response:
        account_id = request.path_params["account_id"]
        form = {name: str(value) for name, value in (await request.form()).items()}
        trade = (form.get("security_id", ""), form.get("side", ""), form.get("lot_id") or None)
        return after(
            request,
            account_id,
            lambda: screen.decide_trade(
                account_id,
                trade,
                form.get("decision", ""),
                form.get("new_quantity", ""),
                form.get("note", ""),
            ),
        )

    async def explain_page(request: Request) -> Response:
        account_id = request.path_params["account_id"]
        if screen.account(account_id) is None:
            return PlainTextResponse(f"{account_id} is not in the open queue", 404)
        try:
            text = explain(
                account_id, desk.day, desk.home, book_policy(desk.book, desk.day)
            ).to_text()
        except AuditError as exc:
            text = str(exc)
        return page(request, "explain.html", account_id=account_id, text=text)

    async def release(request: Request) -> Response:
        form = await request.form()
        decided_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        try:
            released = screen.release(str(form.get("reviewer", "")), decided_at)
        except (ScreenError, DecisionRecordError) as exc:
            return page(request, "_queue.html", error=str(exc))
        return page(
            request,
            "_queue.html",
            released=released,
            still_queued=still_queued_lines(released.outcome),
        )

    routes = [
        Route("/", queue),
        Route("/accounts/{account_id}", account),
        Route("/accounts/{account_id}/decide", decide_account, methods=["POST"]),
        Route("/accounts/{account_id}/trades/decide", decide_trade, methods=["POST"]),
        Route("/accounts/{account_id}/explain", explain_page),
        Route("/release", release, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(
            CSRFMiddleware,
            secret=csrf_secret or secrets.token_urlsafe(32),
            cookie_samesite="strict",
        )
    ]
    if token is not None:
        middleware.insert(0, Middleware(TokenMiddleware, token=token))
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    return Starlette(routes=routes, middleware=middleware)


def serve(desk: ReviewDesk, *, host: str, port: int, token: str | None) -> None:
    """Serve the review app until interrupted; any address but a local one needs a token."""
    import uvicorn

    if host not in LOCAL_HOSTS and not token:
        raise ServeError(
            f"--host {host} is reachable from other machines: give --token (or "
            "$REBALANCE_REVIEW_TOKEN), or keep the default 127.0.0.1"
        )
    local = None if token else sorted(LOCAL_HOSTS | {host})
    app = create_app(desk, token=token, allowed_hosts=local)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"reviewing {desk.day} at {address} (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")

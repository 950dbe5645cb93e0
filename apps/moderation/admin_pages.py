"""The moderators' admin site (/admin/): thin pages over ``admin_services`` (reads), ``admin_actions`` and
``services`` (decisions)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render

from apps.accounts import services as accounts
from apps.accounts.cookies import clear_auth_cookies, set_auth_cookies
from apps.accounts.domain import MODERATOR_ROLES
from apps.accounts.pages import WRONG_CREDENTIALS
from apps.core.errors import AppError, RateLimited, Unauthorized, ValidationFailed
from apps.core.ids import new_request_id
from apps.core.ratelimit import client_ip
from apps.core.views import allow_methods
from apps.moderation import admin_actions, admin_services, rules, selectors, services
from apps.moderation.admin_auth import LOGIN_URL, refuse, safe_next, staff_page
from apps.moderation.admin_forms import AdminLoginForm, BulkForm, DecideForm, EnabledForm, QuickForm, RoleForm
from apps.moderation.domain import CONTENT_TYPES, QUEUE_KINDS, Actor, valid_content_id


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, f"admin/gr/{template}", context, status=status)


def _back(path: str, **params: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{path}?{urlencode(params)}" if params else path)


# -- sign-in ------------------------------------------------------------------------


@allow_methods("GET", "HEAD", "POST")
async def login(request: HttpRequest) -> HttpResponse:
    form = AdminLoginForm(request.POST if request.method == "POST" else None)
    next_url = safe_next(request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST" and form.is_valid():
        try:
            issued = await accounts.signin(
                form.cleaned_data["email"], form.cleaned_data["password"], ip=client_ip(request)
            )
        except Unauthorized:
            # Same words for a disabled account as for a wrong password: anything else confirms the password.
            form.add_error(None, WRONG_CREDENTIALS)
        except RateLimited as exc:
            form.add_error(None, f"Too many attempts; try again in {exc.retry_after_s} s.")
        else:
            if issued.role in MODERATOR_ROLES:
                response = HttpResponseRedirect(next_url)
                set_auth_cookies(response, issued)
                return response
            # Not staff: close the sign-in just opened and say so.
            await accounts.logout(await accounts.authenticate(issued.access_token, via="cookie"))
            form.add_error(None, "This account is not a moderator or admin.")
    status = 400 if form.errors else 200
    return _page(request, "login.html", {"form": form, "next": next_url, "title": "Log in"}, status)


@allow_methods("POST")
async def logout(request: HttpRequest) -> HttpResponse:
    if request.principal is not None:
        await accounts.logout(request.principal)
    response = HttpResponseRedirect(LOGIN_URL)
    clear_auth_cookies(response)
    return response


# -- moderation -----------------------------------------------------------------------


@staff_page("GET", "HEAD")
async def index(request: HttpRequest) -> HttpResponse:
    queue = await selectors.review_queue(limit=200)
    return _page(request, "index.html", {"title": "Site administration", "queue_size": len(queue)})


async def _queue_page(request: HttpRequest, extra: dict | None = None, status: int = 200) -> HttpResponse:
    source = request.GET
    kind = source.get("kind") if source.get("kind") in QUEUE_KINDS else None
    content_type = source.get("content_type")
    content_type = content_type if content_type in CONTENT_TYPES else None
    items = await admin_services.review_queue(request.principal, kind=kind, content_type=content_type, limit=200)
    for entry in items:  # one request id per row's quick form: a double click is one decision
        entry["request_id"] = new_request_id()
    here = request.get_full_path() if request.method == "GET" else "/admin/moderation/queue/"
    return _page(request, "queue.html", {
        "title": "Review queue", "items": items, "kind": kind, "content_type": content_type,
        "kinds": QUEUE_KINDS, "content_types": CONTENT_TYPES,
        "content_type_labels": [(t, admin_services.label(t)) for t in CONTENT_TYPES],
        "presets": admin_actions.PRESETS.values(), "bulk_presets": admin_actions.BULK_PRESETS,
        "bulk_request_id": new_request_id(), "here": here,
        "done": source.get("done"), "error": source.get("error"),
    } | (extra or {}), status=status)  # fmt: skip


@staff_page("GET", "HEAD")
async def queue(request: HttpRequest) -> HttpResponse:
    return await _queue_page(request)


@staff_page("POST")
async def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Several ticked rows, one decision each (each its own transaction); a result line per item."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        problems = [str(e) for errors in form.errors.values() for e in errors]
        return await _queue_page(request, {"error": " ".join(problems)}, status=400)
    results = await admin_actions.bulk_decide(
        request.principal, form.cleaned_data["content_ids"], form.cleaned_data["preset"],
        form.cleaned_data["request_id"],
    )  # fmt: skip
    decided = sum(1 for r in results if r.ok)
    summary = f"{decided} of {len(results)} item(s) {admin_actions.PRESETS[form.cleaned_data['preset']].done}."
    return await _queue_page(request, {"results": results, "done": summary if decided else None,
                                       "error": None if decided else summary})  # fmt: skip


@staff_page("POST")
async def item_quick(request: HttpRequest, content_id: str) -> HttpResponse:
    """One-click Approve / Hide for review / Remove / Warn, from a queue row or the item page."""
    form = QuickForm(request.POST)
    if not form.is_valid():
        return refuse(request, "Invalid decision button; reload the page and try again.", 400)
    back = safe_next(form.cleaned_data.get("next") or "/admin/moderation/queue/")
    path, _, query = back.partition("?")
    params = {k: v for k, v in QueryDict(query).items() if k not in ("done", "error")}
    preset = admin_actions.PRESETS[form.cleaned_data["preset"]]
    try:
        result = await admin_actions.quick_decide(
            request.principal, content_id, preset.key, form.cleaned_data["request_id"]
        )
    except AppError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _back(path, **params, error=f"{preset.label} was not recorded: {exc.message}")
    content = result["content"]
    who = f" by {content['author_username']}" if content.get("author_username") else ""
    what = admin_services.label(content["content_type"]).lower()
    return _back(path, **params, done=f"{preset.done} — the {what}{who}")


@staff_page("GET", "HEAD", "POST")
async def item(request: HttpRequest, content_id: str) -> HttpResponse:
    context = await admin_services.item_context(request.principal, content_id)
    form = DecideForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        body = form.decision_body(content_id, context["content_type"])
        try:
            await services.decide(Actor.of(request.principal), body, request_id=form.cleaned_data["request_id"])
        except ValidationFailed as exc:
            form.add_rule_errors(exc)
        except AppError as exc:
            if exc.status >= 500:
                raise
            form.add_error(None, exc.message)
            status = exc.status  # e.g. 403 from the role rule, shown above the form
        else:
            return _back(f"/admin/moderation/items/{content_id}/", done="decided")
    context |= {
        "title": _item_title(context),
        "form": form,
        "done": request.GET.get("done"),
        "error": request.GET.get("error"),
        "presets": admin_actions.PRESETS.values(),
        "quick_request_id": new_request_id(),
        "allowed_actions": rules.ALLOWED_ACTIONS,
        "advanced_open": request.method == "POST",
    }
    if form.errors and status == 200:
        status = 400
    return _page(request, "item.html", context, status=status)


def _item_title(context: dict) -> str:
    state = context.get("state") or {}
    who = f" by {state['author_username']}" if state.get("author_username") else ""
    return f"{admin_services.label(context['content_type'])}{who}"


def _ms(value: str | None, *, end: bool = False) -> int | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp() * 1000) + (86_400_000 - 1 if end else 0)


@staff_page("GET", "HEAD")
async def decisions(request: HttpRequest) -> HttpResponse:
    q = request.GET
    content_id = (q.get("content_id") or "").strip() or None
    rows = await admin_services.search_decisions(
        content_id=content_id if content_id and valid_content_id(content_id) else None,
        actor=(q.get("actor") or "").strip()[:128] or None,
        from_ms=_ms(q.get("from")),
        to_ms=_ms(q.get("to"), end=True),
        limit=200,
    )
    verify_id = (q.get("verify") or "").strip()
    check = await admin_services.verify_chain(verify_id) if verify_id else None
    return _page(request, "decisions.html", {
        "title": "Decisions", "rows": rows, "filters": q, "verify_id": verify_id, "check": check,
    })  # fmt: skip


@staff_page("GET", "HEAD")
async def reports(request: HttpRequest) -> HttpResponse:
    return _page(request, "reports.html", {"title": "Open reports", "items": await admin_services.reports_by_item()})


# -- users (admin only) -------------------------------------------------------------------


@staff_page("GET", "HEAD", admin_only=True)
async def users(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()[:128]
    rows = await admin_services.search_users(query or None)
    return _page(request, "users.html", {
        "title": "Users", "rows": rows, "q": query, "done": request.GET.get("done"),
        "error": request.GET.get("error"), "request_id": new_request_id(),
    })  # fmt: skip


@staff_page("POST", admin_only=True)
async def user_role(request: HttpRequest, user_id: str) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        return refuse(request, "Choose a valid role.", 400)
    try:
        await admin_actions.set_role(request.principal, user_id, form.cleaned_data["role"])
    except AppError as exc:
        if exc.status >= 500:
            raise
        return _back("/admin/users/", error=exc.message)
    return _back("/admin/users/", done="role changed")


@staff_page("POST", admin_only=True)
async def user_enabled(request: HttpRequest, user_id: str) -> HttpResponse:
    form = EnabledForm(request.POST)
    if not form.is_valid() or not valid_content_id(user_id):
        return refuse(request, "Invalid request.", 400)
    enabled = form.cleaned_data["enabled"]
    try:  # the role rule lives in the service; its refusal is shown like set_role's
        await admin_actions.set_enabled(request.principal, user_id, enabled, form.cleaned_data["request_id"])
    except AppError as exc:
        if exc.status >= 500:
            raise
        return _back("/admin/users/", error=exc.message)
    return _back("/admin/users/", done="enabled" if enabled else "disabled")


# -- webhook outbox (admin only) -------------------------------------------------------------


@staff_page("GET", "HEAD", admin_only=True)
async def outbox(request: HttpRequest) -> HttpResponse:
    from apps.webhooks import services as webhooks
    from apps.webhooks.repository import STATUSES

    status = request.GET.get("status") if request.GET.get("status") in STATUSES else None
    events = await webhooks.list_events(status=status, limit=200)
    return _page(request, "outbox.html", {"title": "Webhook outbox", "events": events, "status": status,
                                          "statuses": STATUSES})  # fmt: skip


@staff_page("GET", "HEAD", "POST", admin_only=True)
async def outbox_event(request: HttpRequest, event_id: str) -> HttpResponse:
    from apps.webhooks import services as webhooks

    error = None
    if request.method == "POST":
        try:
            await admin_actions.replay_event(request.principal, event_id)
        except AppError as exc:
            if exc.status >= 500 or exc.status == 404:
                raise
            error = exc.message
        else:
            return _back(f"/admin/webhooks/outbox/{event_id}/", done="replayed")
    event = await webhooks.get_event(event_id)
    logs = await webhooks.event_logs(event_id)
    return _page(request, "outbox_event.html", {
        "title": f"Event {event_id}", "event": event, "logs": logs, "done": request.GET.get("done"), "error": error,
    })  # fmt: skip

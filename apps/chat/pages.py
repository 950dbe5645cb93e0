"""Server-rendered chat pages: the thread list, Discover, one thread, and its members.

The pages render the shell; static/js/chat.js loads messages and streams them
through the JSON API with the signed-in cookie (same origin), and keeps the
thread list fresh by polling the JSON thread list. Membership actions (join,
invite, mute, remove, leave) are plain POST forms that call the chat services,
so they work without JavaScript and a double submit changes nothing twice
(every one of those services is idempotent).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from apps.chat import services
from apps.core.errors import AppError, Forbidden, NotFound
from apps.core.views import allow_methods

DISCOVER_LIMIT = 100
PRIVACY_CHOICES = [
    ("public", "Public — everyone in your community can find it in Discover and join"),
    ("private", "Private — only people you invite can see and join it"),
]
MUTE_CHOICES = [(60, "1 hour"), (24 * 60, "1 day"), (7 * 24 * 60, "1 week"), (0, "Unmute")]
# ?done=<code> after a redirect: fixed texts only, never text from the address.
DONE_TEXT = {
    "invited": "Invited. They can open the thread now.",
    "muted": "Muted: they can read but not send until the time is up.",
    "unmuted": "Unmuted: they can send again.",
    "removed": "Removed from the thread.",
    "left": "You left the thread. You can join a public thread again from Discover.",
}


class ThreadForm(forms.Form):
    title = forms.CharField(
        max_length=200,
        required=False,
        label="Title",
        error_messages={"max_length": "Keep the title to %(limit_value)d characters (it has %(show_value)d)."},
    )
    privacy_level = forms.ChoiceField(
        choices=PRIVACY_CHOICES, initial="public", widget=forms.RadioSelect, label="Who can see it"
    )


class InviteForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[A-Za-z0-9_.-]{3,64}$",
        label="Username",
        error_messages={
            "required": "Type the username of the member to invite.",
            "invalid": "A username has 3 to 64 letters, digits, dots, dashes or underscores.",
        },
    )


class MuteForm(forms.Form):
    minutes = forms.TypedChoiceField(choices=MUTE_CHOICES, coerce=int)


def _signin(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/signin")


def _error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "error.html", {"error": {"status": status, "message": message}}, status=status)


def _done(request: HttpRequest) -> str | None:
    return DONE_TEXT.get(request.GET.get("done", ""))


async def _listed(principal) -> list[dict]:
    return await services.list_threads(principal, scope_id=None, limit=200)


@allow_methods("GET", "HEAD", "POST")
async def thread_list(request: HttpRequest) -> HttpResponse:
    """Your threads (latest activity first); with none yet, the public threads to join instead."""
    principal = request.principal
    if principal is None:
        return _signin(request)
    form = ThreadForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        thread = await services.create_thread(
            principal,
            scope_id=principal.community_id,
            privacy_level=data["privacy_level"],
            title=data["title"].strip() or None,
        )
        return HttpResponseRedirect(f"/threads/{thread['thread_id']}")
    threads = await _listed(principal)
    discover = [] if threads else await services.discover(principal, limit=DISCOVER_LIMIT)
    context = {"threads": threads, "discover": discover, "form": form, "done": _done(request)}
    return render(request, "chat/threads.html", context, status=400 if form.errors else 200)


@allow_methods("GET", "HEAD")
async def discover_page(request: HttpRequest) -> HttpResponse:
    """Public threads of the member's community, with member count, last activity and Join."""
    principal = request.principal
    if principal is None:
        return _signin(request)
    threads = await services.discover(principal, limit=DISCOVER_LIMIT)
    return render(request, "chat/discover.html", {"threads": threads})


@allow_methods("GET", "HEAD")
async def thread_page(request: HttpRequest, thread_id: str) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return _signin(request)
    try:
        found = await services.access(principal, thread_id, member_required=False)
    except NotFound:
        return _error(request, 404, "Thread not found.")
    context = {"thread": found.thread, "member": found.member}
    return render(request, "chat/thread.html", context)


@allow_methods("POST")
async def join_page(request: HttpRequest, thread_id: str) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return _signin(request)
    try:
        await services.join(principal, thread_id)
    except (NotFound, Forbidden):
        return _error(request, 404, "Thread not found.")
    return HttpResponseRedirect(f"/threads/{thread_id}")


@allow_methods("POST")
async def leave_page(request: HttpRequest, thread_id: str) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return _signin(request)
    try:
        await services.leave(principal, thread_id)
    except (NotFound, Forbidden):
        return _error(request, 404, "Thread not found.")
    return HttpResponseRedirect("/threads?done=left")


async def _members_context(principal, thread_id: str) -> dict:
    found = await services.access(principal, thread_id)
    members = await services.list_members(principal, thread_id)
    manager = found.role in services.MANAGER_ROLES
    for m in members:
        # Owners/admins act on members; an admin never on the owner, nobody on themselves here.
        m["manageable"] = (
            manager and m["user_id"] != principal.user_id and not (m["role"] == "owner" and found.role != "owner")
        )
    return {"thread": found.thread, "member": found.member, "members": members, "manager": manager,
            "mute_choices": MUTE_CHOICES}  # fmt: skip


async def _render_members(
    request: HttpRequest, thread_id: str, *, invite: InviteForm | None = None, error: str | None = None,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    principal = request.principal
    try:
        context = await _members_context(principal, thread_id)
    except NotFound:
        return _error(request, 404, "Thread not found.")
    except Forbidden:
        return _error(request, 403, "Join the thread to see its members.")
    context.update(invite=invite or InviteForm(), error=error, done=_done(request))
    return render(request, "chat/members.html", context, status=status)


@allow_methods("GET", "HEAD", "POST")
async def members_page(request: HttpRequest, thread_id: str) -> HttpResponse:
    """The member list; owners/admins also invite by username (POST) and mute or remove."""
    principal = request.principal
    if principal is None:
        return _signin(request)
    if request.method != "POST":
        return await _render_members(request, thread_id)
    invite = InviteForm(request.POST)
    if not invite.is_valid():
        return await _render_members(request, thread_id, invite=invite, status=400)
    try:
        await services.add_member(principal, thread_id, username=invite.cleaned_data["username"], role="member")
    except NotFound as exc:
        if exc.details and "username" in exc.details:
            invite.add_error("username", f"No member is called “{invite.cleaned_data['username']}”.")
            return await _render_members(request, thread_id, invite=invite, status=404)
        return _error(request, 404, "Thread not found.")
    except Forbidden:
        return await _render_members(
            request, thread_id, invite=invite, error="Only the thread's owner or admins can invite.", status=403
        )
    return HttpResponseRedirect(f"/threads/{thread_id}/members?done=invited")


@allow_methods("POST")
async def member_action(request: HttpRequest, thread_id: str, user_id: str, action: str) -> HttpResponse:
    """Mute (for a chosen time, or unmute) or remove one member: owners/admins of the thread."""
    principal = request.principal
    if principal is None:
        return _signin(request)
    try:
        if action == "remove":
            await services.remove(principal, thread_id, user_id)
            done = "removed"
        else:
            form = MuteForm(request.POST)
            if not form.is_valid():
                return await _render_members(request, thread_id, error="Choose how long to mute.", status=400)
            minutes = form.cleaned_data["minutes"]
            await services.mute(principal, thread_id, user_id, minutes=minutes)
            done = "muted" if minutes else "unmuted"
    except NotFound:
        return await _render_members(request, thread_id, error="That person is not a member any more.", status=404)
    except Forbidden as exc:
        return await _render_members(request, thread_id, error=_sentence(exc), status=403)
    return HttpResponseRedirect(f"/threads/{thread_id}/members?done={done}")


def _sentence(exc: AppError) -> str:
    text = str(exc.message or "not allowed")
    return text[:1].upper() + text[1:] + "."

"""Server-rendered chat pages: the thread list (with a create form) and one thread.

The pages render the shell; static/js/chat.js loads messages and streams them
through the JSON API with the signed-in cookie (same origin).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from apps.chat import services
from apps.core.errors import Forbidden, NotFound
from apps.core.views import allow_methods


class ThreadForm(forms.Form):
    scope_id = forms.CharField(min_length=1, max_length=128, initial="default", label="Scope")
    title = forms.CharField(max_length=200, required=False, label="Title")
    privacy_level = forms.ChoiceField(choices=[("public", "Public"), ("private", "Private")], label="Privacy")


def _signin(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/signin")


@allow_methods("GET", "HEAD", "POST")
async def thread_list(request: HttpRequest) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return _signin(request)
    form = ThreadForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        thread = await services.create_thread(
            principal, scope_id=data["scope_id"], privacy_level=data["privacy_level"], title=data["title"] or None
        )
        return HttpResponseRedirect(f"/threads/{thread['thread_id']}")
    threads = await services.list_threads(principal, scope_id=None, limit=200)
    status = 400 if form.errors else 200
    return render(request, "chat/threads.html", {"threads": threads, "form": form}, status=status)


@allow_methods("GET", "HEAD")
async def thread_page(request: HttpRequest, thread_id: str) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return _signin(request)
    try:
        found = await services.access(principal, thread_id, member_required=False)
    except NotFound:
        return render(request, "error.html", {"error": {"status": 404, "message": "Thread not found."}}, status=404)
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
        return render(request, "error.html", {"error": {"status": 404, "message": "Thread not found."}}, status=404)
    return HttpResponseRedirect(f"/threads/{thread_id}")

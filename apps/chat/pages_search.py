"""The message search page (``/threads/search``): a GET form and server-rendered results.

Server-rendered on purpose: the results are the same JSON service the API answers (``search.py``),
the page works without JavaScript, and the snippets arrive already escaped with only ``<mark>`` added
(marked safe here for that reason alone).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.safestring import mark_safe

from apps.chat import search, services
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.core.views import allow_methods

PAGE_SIZE = 20
OFFSET_MAX = 10_000


def _offset(raw: str | None) -> int:
    try:
        value = int(raw or 0)
    except ValueError:
        return 0
    return min(max(value, 0), OFFSET_MAX)


@allow_methods("GET", "HEAD")
async def search_page(request: HttpRequest) -> HttpResponse:
    principal = request.principal
    if principal is None:
        return HttpResponseRedirect("/signin")
    raw = request.GET.get("q")
    thread_id = request.GET.get("thread_id") or None
    offset = _offset(request.GET.get("offset"))
    context: dict = {"q": raw or "", "thread": None, "page": None, "error": None, "offset": offset}
    status = 200
    if thread_id:
        try:
            context["thread"] = (await services.access(principal, thread_id)).thread
        except (NotFound, Forbidden):
            context["error"] = "That thread is not one you can search. Searching all your threads instead."
            thread_id = None
    if raw is not None:
        try:
            page = await search.search_messages(
                principal, query=raw, thread_id=thread_id, limit=PAGE_SIZE, offset=offset
            )
        except ValidationFailed as exc:
            problems = (exc.details or {}).get("fields", {}).get("q") or [exc.message]
            context["error"] = _plain(problems[0])
            status = 400
        else:
            for result in page["results"]:
                result["snippet"] = mark_safe(result["snippet_html"])  # escaped by search.snippet_html
            context["page"] = page
            context["prev_offset"] = max(0, offset - PAGE_SIZE) if offset else None
    return render(request, "chat/search.html", context, status=status)


def _plain(problem: str) -> str:
    """The service's wording as a sentence for the page."""
    if problem.startswith("at most"):
        return f"Your search is too long: use {problem}."
    if "NUL" in problem:
        return "Your search contains a character that cannot be searched for."
    return "Enter one or more words to search for."

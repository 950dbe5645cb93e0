"""Server-rendered pages: my contributions, a new contribution, one contribution with its evidence.

Pages use the cookie session (``request.principal``); anonymous visitors go to
/signin. The add-evidence form is driven by ``static/js/evidence.js`` (hash in
the browser, direct upload, confirm, submit) against the JSON API with CSRF.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render

from apps.core.errors import AppError, NotFound, ValidationFailed
from apps.core.views import allow_methods
from apps.evidence import rules, services, services_evidence
from apps.evidence.files import IMAGE_TYPES


def _signin(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/signin?" + urlencode({"next": request.get_full_path()}))


@allow_methods("GET", "HEAD")
async def contribution_list(request: HttpRequest) -> HttpResponse:
    if request.principal is None:
        return _signin(request)
    items = await services.list_contributions(request.principal, {"limit": 200})
    return render(request, "evidence/list.html", {"contributions": items})


def _form_input(post: Any) -> dict[str, Any]:
    return {
        "title": post.get("title", ""),
        "contribution_type": post.get("contribution_type") or None,
        "mode": post.get("mode") or None,
        "description": post.get("description", ""),
        "evidence_url": post.get("evidence_url") or None,
        "skill_ids": [s for s in post.get("skill_ids", "").split(",")],
    }


@allow_methods("GET", "HEAD", "POST")
async def contribution_new(request: HttpRequest) -> HttpResponse:
    if request.principal is None:
        return _signin(request)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"mode": "komunitas"}
    if request.method == "POST":
        values = _form_input(request.POST)
        try:
            created = await services.create_contribution(request.principal, values)
        except ValidationFailed as exc:
            errors = (exc.details or {}).get("fields") or {"title": [exc.message]}
        else:
            return HttpResponseRedirect(f"/contributions/{created['contribution_id']}")
        values["skill_ids"] = request.POST.get("skill_ids", "")
    context = {
        "values": values,
        "errors": errors,
        "types": rules.CONTRIBUTION_TYPES,
        "modes": rules.MODES,
    }
    return render(request, "evidence/new.html", context, status=400 if errors else 200)


@allow_methods("GET", "HEAD")
async def contribution_detail(request: HttpRequest, contribution_id: str) -> HttpResponse:
    if request.principal is None:
        return _signin(request)
    try:
        contribution = await services.get_contribution(contribution_id)
    except NotFound as exc:
        return render(request, "error.html", {"error": exc}, status=404)
    evidence = await services_evidence.list_evidence(contribution_id, {"limit": 200})
    for item in evidence:
        item["thumbnail_url"] = None
        media = item["media"]
        if media and media["mime_type"] in IMAGE_TYPES:
            with contextlib.suppress(AppError):  # not allowed to see it, or gone: no thumbnail
                item["thumbnail_url"] = await services_evidence.media_url(
                    request.principal, item["evidence_id"], evidence=item
                )
    get_token(request)  # the form's API calls send the csrftoken cookie back as X-CSRFToken
    context = {
        "contribution": contribution,
        "evidence": evidence,
        "is_author": contribution["author_id"] == request.principal.user_id,
        "evidence_types": rules.EVIDENCE_TYPES,
        "relationships": rules.RELATIONSHIPS,
    }
    return render(request, "evidence/detail.html", context)

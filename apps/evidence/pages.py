"""Server-rendered pages: contributions (mine, a member's, everyone's), one contribution with its
evidence, a member's profile with their vouches, vouching, and evidence thumbnails.

Pages use the cookie session (``request.principal``); anonymous visitors go to /signin. The views only
parse the form and call the services (the API's rules, messages and transactions); refusals are turned
into plain words beside the field they concern. The add-evidence form is driven by
``static/js/evidence.js`` (hash in the browser, direct upload, confirm, submit) against the JSON API.

Form POSTs carry a ``form_token`` rendered with the page; it becomes the request id the service stores,
so a second submit of the same form (double click, resend after a lost answer) replays the first
result instead of writing a duplicate (the services' request-id unique indexes).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render

from apps.core import context as request_context
from apps.core.api import error_response
from apps.core.errors import AppError, Conflict, NotFound, ValidationFailed
from apps.core.ids import is_entity_id, new_request_id
from apps.core.middleware import valid_id
from apps.core.storage import get_storage
from apps.core.views import allow_methods
from apps.evidence import rules, services, services_evidence, thumbnails
from apps.evidence.templatetags.evidence_ui import WEIGHT_CHOICES

PAGE_SIZE = 50
PROFILE_ITEMS = 20


def _signin(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/signin?" + urlencode({"next": request.get_full_path()}))


def _use_form_token(post: Any) -> None:
    """The form's token becomes the stored request id: a repeated submit replays instead of duplicating."""
    token = post.get("form_token", "")
    if token and valid_id(token):
        request_context.update(request_id=token)


def _not_found(request: HttpRequest, exc: AppError) -> HttpResponse:
    return render(request, "error.html", {"error": exc}, status=exc.status)


# -- contributions -----------------------------------------------------------------


@allow_methods("GET", "HEAD")
async def contribution_list(request: HttpRequest) -> HttpResponse:
    """Mine (default, the spec's /contributions), ``?member=<username>``, or ``?everyone=1``."""
    if request.principal is None:
        return _signin(request)
    principal = request.principal
    member_name = request.GET.get("member", "").strip()[:64]
    everyone = request.GET.get("everyone") == "1" and not member_name
    before = request.GET.get("before")
    params: dict[str, Any] = {"limit": PAGE_SIZE, "before": before if is_entity_id(before) else None}
    member, status, missing = None, 200, ""
    items: list[dict[str, Any]] = []
    if member_name:
        try:
            member = await services.member_by_username(member_name)
        except NotFound:
            missing, status = member_name, 404
        else:
            items = await services.list_contributions(principal, params | {"author_id": member["user_id"]})
    elif everyone:
        items = await services.recent_contributions(principal, params)
    else:
        items = await services.list_contributions(principal, params)
    is_mine = not everyone and not missing and (member is None or member["user_id"] == principal.user_id)
    older = None
    if len(items) == PAGE_SIZE:
        query = {"member": member_name} if member_name else {"everyone": "1"} if everyone else {}
        older = "/contributions?" + urlencode(query | {"before": items[-1]["contribution_id"]})
    context = {
        "contributions": items,
        "member": member,
        "member_query": member_name,
        "missing": missing,
        "everyone": everyone,
        "is_mine": is_mine,
        "older": older,
    }
    return render(request, "evidence/list.html", context, status=status)


def _text(value: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; stored text uses LF like the API's."""
    return value.replace("\r\n", "\n")


def _form_input(post: Any) -> dict[str, Any]:
    return {
        "title": post.get("title", ""),
        "contribution_type": post.get("contribution_type") or None,
        "mode": post.get("mode") or None,
        "description": _text(post.get("description", "")),
        "evidence_url": post.get("evidence_url") or None,
        "skill_ids": [s for s in post.get("skill_ids", "").split(",")],
    }


def _plain(field: str, message: str, value: Any = None) -> str:
    """A validation message of the rules in words a member reads (the API keeps the spec's wording)."""
    length = len(value) if isinstance(value, str) else 0
    if "NUL" in message:
        return "This contains a character that cannot be stored; remove it and try again."
    words = {
        "title": {
            "title is required": "Give your contribution a title.",
            "title exceeds max length of 200": f"Keep the title to 200 characters (it has {length}).",
        },
        "description": {
            "description exceeds max length of 2000": f"Keep the description to 2,000 characters (it has {length}).",
        },
        "skill_ids": {"skill_ids exceeds max of 10": "List at most 10 skills."},
    }
    if message in words.get(field, {}):
        return words[field][message]
    if field == "contribution_type":
        return "Choose a kind of contribution from the list."
    if field == "mode":
        return "Choose a mode from the list."
    if field == "evidence_url":
        return "Enter a full web address starting with http:// or https://, or leave it empty."
    if field == "skill_ids":
        return "Each skill needs at most 100 characters; separate skills with commas."
    return message[0].upper() + message[1:] + "." if message else "Please check this field."


@allow_methods("GET", "HEAD", "POST")
async def contribution_new(request: HttpRequest) -> HttpResponse:
    if request.principal is None:
        return _signin(request)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"mode": "komunitas"}
    if request.method == "POST":
        values = _form_input(request.POST)
        _use_form_token(request.POST)
        try:
            created = await services.create_contribution(request.principal, values)
        except ValidationFailed as exc:
            fields = (exc.details or {}).get("fields") or {"title": [exc.message]}
            errors = {
                f: [_plain(f, m, request.POST.get(f)) for m in msgs] for f, msgs in fields.items()
            }  # fmt: skip
        else:
            return HttpResponseRedirect(f"/contributions/{created['contribution_id']}")
        values["skill_ids"] = request.POST.get("skill_ids", "")
    context = {
        "values": values,
        "errors": errors,
        "types": rules.CONTRIBUTION_TYPES,
        "modes": rules.MODES,
        "form_token": new_request_id(),
    }
    return render(request, "evidence/new.html", context, status=400 if errors else 200)


# -- vouching ------------------------------------------------------------------------

VOUCH_FIELDS = ("weight_hint", "skill_id", "message")


def _vouch_words(field: str, message: str, value: Any, vouchee: str) -> tuple[str, str]:
    """(form slot, plain words) for a refused vouch."""
    length = len(value) if isinstance(value, str) else 0
    if "cannot vouch for yourself" in message:
        return "form", "You cannot vouch for yourself."
    if "NUL" in message:
        return (field if field in VOUCH_FIELDS else "form"), "This contains a character that cannot be stored."
    if field == "weight_hint":
        return field, "Choose how strongly you vouch: Strong, Moderate or Light."
    if field == "skill_id":
        if "blank" in message:
            return field, "Write a skill, or leave the field empty."
        return field, f"Keep the skill to {rules.MAX_SKILL_LEN} characters (it has {length})."
    if field == "message":
        return field, f"Keep the message to {rules.MAX_VOUCH_MESSAGE} characters (it has {length})."
    return "form", f"This vouch for {vouchee} could not be saved. Please try again."


async def _vouch(request: HttpRequest, vouchee: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Create the vouch from the posted form: (errors by slot, the values to show again)."""
    post = request.POST
    values = {
        "weight_hint": post.get("weight_hint") or None,
        "skill_id": post.get("skill_id", "").strip() or None,
        "message": _text(post.get("message", "")).strip() or None,
    }
    _use_form_token(post)
    name = vouchee["username"]
    try:
        await services.create_vouch(request.principal, {"vouchee_id": vouchee["user_id"], **values})
    except ValidationFailed as exc:
        fields = (exc.details or {}).get("fields") or {"form": [exc.message]}
        errors: dict[str, str] = {}
        for field, messages in fields.items():
            slot, words = _vouch_words(field, messages[0], values.get(field), name)
            errors.setdefault(slot, words)
        return errors, values
    except Conflict:
        skill = f" for “{values['skill_id']}”" if values["skill_id"] else ""
        words = f"You have already vouched for {name}{skill}. You can vouch once per skill: name another skill."
        return {"skill_id": words}, values
    except NotFound:
        return {"form": f"{name} is no longer a member."}, values
    return {}, values


def _vouch_context(vouchee: dict[str, Any], errors: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "vouchee": vouchee,
        "errors": errors,
        "values": values or {"weight_hint": "moderate"},
        "weights": WEIGHT_CHOICES,
        "form_token": new_request_id(),
        "max_message": rules.MAX_VOUCH_MESSAGE,
        "max_skill": rules.MAX_SKILL_LEN,
    }


# -- one contribution --------------------------------------------------------------------


def _may_see_media(principal: Any, contribution: dict[str, Any], evidence: dict[str, Any]) -> bool:
    """The media rule of ``services_evidence.verified_media`` (the thumbnail endpoint enforces it again)."""
    return principal.is_moderator or principal.user_id in (evidence["actor_id"], contribution["author_id"])


@allow_methods("GET", "HEAD", "POST")
async def contribution_detail(request: HttpRequest, contribution_id: str) -> HttpResponse:
    if request.principal is None:
        return _signin(request)
    principal = request.principal
    try:
        contribution = await services.get_contribution(contribution_id)
    except NotFound as exc:
        return _not_found(request, exc)
    author = {"user_id": contribution["author_id"], "username": contribution["author_username"]}
    is_author = contribution["author_id"] == principal.user_id
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        errors, values = await _vouch(request, author)
        if not errors:
            return HttpResponseRedirect(f"/contributions/{contribution_id}?vouched=1#vouch")
    evidence = await services_evidence.list_evidence(contribution_id, {"limit": 200})
    for item in evidence:
        media = item["media"]
        visible = media is not None and _may_see_media(principal, contribution, item)
        item["original_url"] = f"/v1/evidence/{item['evidence_id']}/media" if visible else None
        item["thumbnail_url"] = (
            f"/evidence/{item['evidence_id']}/thumbnail"
            if visible and media["mime_type"] in thumbnails.THUMBNAIL_TYPES
            else None
        )
    get_token(request)  # the form's API calls send the csrftoken cookie back as X-CSRFToken
    context = {
        "contribution": contribution,
        "evidence": evidence,
        "is_author": is_author,
        "evidence_types": rules.EVIDENCE_TYPES,
        "relationships": rules.RELATIONSHIPS,
        "vouched": request.GET.get("vouched") == "1" and not errors,
        "vouch_skills": contribution["skill_ids"],
        **_vouch_context(author, errors, values),
    }
    return render(request, "evidence/detail.html", context, status=400 if errors else 200)


# -- member profiles -------------------------------------------------------------------------


@allow_methods("GET", "HEAD", "POST")
async def member_profile(request: HttpRequest, username: str) -> HttpResponse:
    """A member's contributions and the vouches they received and gave; vouch for them (not yourself)."""
    if request.principal is None:
        return _signin(request)
    principal = request.principal
    try:
        member = await services.member_by_username(username)
    except NotFound as exc:
        return _not_found(request, exc)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        errors, values = await _vouch(request, member)
        if not errors:
            return HttpResponseRedirect(f"/members/{member['username']}?vouched=1#vouch")
    contributions = await services.list_contributions(
        principal, {"author_id": member["user_id"], "limit": PROFILE_ITEMS}
    )
    received = await services.list_vouches(principal, {"vouchee_id": member["user_id"], "limit": 100})
    given = await services.list_vouches(principal, {"voucher_id": member["user_id"], "limit": 100})
    names = await services.member_names([v["vouchee_id"] for v in given])
    for vouch in given:
        vouch["vouchee_username"] = names.get(vouch["vouchee_id"], "a former member")
    skills = list(dict.fromkeys(s for c in contributions for s in c["skill_ids"]))
    context = {
        "member": member,
        "is_me": member["user_id"] == principal.user_id,
        "contributions": contributions,
        "more_contributions": len(contributions) == PROFILE_ITEMS,
        "received": received,
        "given": given,
        "vouched": request.GET.get("vouched") == "1" and not errors,
        "vouch_skills": skills,
        **_vouch_context(member, errors, values),
    }
    return render(request, "evidence/profile.html", context, status=400 if errors else 200)


# -- thumbnails ------------------------------------------------------------------------------


@allow_methods("GET", "HEAD")
async def evidence_thumbnail(request: HttpRequest, evidence_id: str) -> HttpResponse:
    """302 to the (cached) ≤ 320 px thumbnail of an image evidence, for whoever may see the original."""
    if request.principal is None:
        return error_response(NotFound("evidence not found"))
    try:
        evidence, key = await services_evidence.verified_media(request.principal, evidence_id)
        media = evidence["media"]
        thumb = await thumbnails.ensure_thumbnail(key, media["sha256"], media["mime_type"])
    except AppError as exc:
        return error_response(exc)
    url = get_storage().presigned_get(thumb, expires_s=services_evidence.MEDIA_URL_TTL_S)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, max-age=300"
    return response

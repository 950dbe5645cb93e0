"""Server-rendered pages: home, sign-up, sign-in, sign-out. Errors go beside the fields, never a 500."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts import services
from apps.accounts.cookies import clear_auth_cookies, set_auth_cookies
from apps.accounts.domain import IssuedTokens
from apps.accounts.forms import SigninForm, SignupForm
from apps.core.errors import Conflict, RateLimited, Unauthorized
from apps.core.ratelimit import client_ip
from apps.core.views import allow_methods

HOME = "/threads"  # the chat thread list
# The only sign-in refusal a page shows (also the admin login's): unknown email, wrong password and a
# disabled account look the same.
WRONG_CREDENTIALS = "Wrong email or password."


def _next_page(request: HttpRequest) -> str:
    """Where to go after signing in: the page that sent the visitor here (``?next=``), if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and url_has_allowed_host_and_scheme(target, None):
        return target
    return HOME


def _signed_in(issued: IssuedTokens, target: str = HOME) -> HttpResponse:
    response = HttpResponseRedirect(target)
    set_auth_cookies(response, issued)
    return response


@allow_methods("GET", "HEAD")
async def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html")


FAVICON = settings.BASE_DIR / "static" / "favicon.svg"


@allow_methods("GET", "HEAD")
async def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, asked for by every browser whatever the page links: the site's SVG icon."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@allow_methods("GET", "HEAD", "POST")
async def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = await services.signup(
                services.SignupInput(
                    email=data["email"],
                    username=data["username"],
                    password=data["password"],
                    community_id=data.get("community_id") or "default",
                ),
                ip=client_ip(request),
            )
        except Conflict as exc:
            field = (exc.details or {}).get("field")
            form.add_error(field if field in form.fields else None, f"This {field or 'value'} is already taken.")
        except RateLimited as exc:
            form.add_error(None, f"Too many attempts; try again in {exc.retry_after_s} s.")
        else:
            return _signed_in(issued)
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@allow_methods("GET", "HEAD", "POST")
async def signin(request: HttpRequest) -> HttpResponse:
    form = SigninForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = await services.signin(
                form.cleaned_data["email"], form.cleaned_data["password"], ip=client_ip(request)
            )
        except Unauthorized:
            # One message for every refusal: saying "disabled" would confirm the password (issue 12).
            form.add_error(None, WRONG_CREDENTIALS)
        except RateLimited as exc:
            form.add_error(None, f"Too many attempts; try again in {exc.retry_after_s} s.")
        else:
            return _signed_in(issued, _next_page(request))
    context = {"form": form, "next": _next_page(request)}
    return render(request, "accounts/signin.html", context, status=400 if form.errors else 200)


@allow_methods("GET", "HEAD", "POST")
async def signout(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "accounts/signout.html")
    if request.principal is not None:
        await services.logout(request.principal)
    response = HttpResponseRedirect(HOME)
    clear_auth_cookies(response)
    return response

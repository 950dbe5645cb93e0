"""JSON endpoints under /v1/auth/: parse input, call a service, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import services
from apps.accounts.cookies import clear_auth_cookies, set_auth_cookies
from apps.accounts.permissions import IsAuthenticated
from apps.accounts.serializers import (
    ErrorEnvelopeSerializer,
    MeSerializer,
    RefreshSerializer,
    SigninSerializer,
    SignupSerializer,
    TokenPairSerializer,
)
from apps.core.api import validated
from apps.core.api_view import APIView
from apps.core.ratelimit import client_ip


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "validation_error",
        401: "unauthorized",
        403: "forbidden (CSRF check failed on a cookie-authenticated request)",
        409: "conflict (details.field names email or username)",
        415: "unsupported_media_type",
        429: "rate_limited (Retry-After header)",
    }
    return {s: OpenApiResponse(ErrorEnvelopeSerializer, description=text[s]) for s in statuses}


class PublicAuthView(APIView):
    """Sign-up, sign-in and refresh ignore any presented token: a stale cookie must not block signing in."""

    authentication_classes: list = []
    permission_classes: list = []


class SignupView(PublicAuthView):
    @extend_schema(
        operation_id="auth_signup",
        request=SignupSerializer,
        responses={201: TokenPairSerializer, **_errors(400, 409, 415, 429)},
        auth=[],
    )
    async def post(self, request: Request) -> Response:
        data = validated(SignupSerializer, request.data)
        issued = await services.signup(services.SignupInput(**data), ip=client_ip(request._request))
        response = Response(issued.as_response(), status=201)
        set_auth_cookies(response, issued)
        return response


class SigninView(PublicAuthView):
    @extend_schema(
        operation_id="auth_signin",
        request=SigninSerializer,
        responses={200: TokenPairSerializer, **_errors(400, 401, 415, 429)},
        auth=[],
    )
    async def post(self, request: Request) -> Response:
        data = validated(SigninSerializer, request.data)
        issued = await services.signin(data["email"], data["password"], ip=client_ip(request._request))
        response = Response(issued.as_response())
        set_auth_cookies(response, issued)
        return response


class RefreshView(PublicAuthView):
    @extend_schema(
        operation_id="auth_refresh",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **_errors(400, 401, 415, 429)},
        auth=[],
    )
    async def post(self, request: Request) -> Response:
        data = validated(RefreshSerializer, request.data)
        issued = await services.refresh(data["refresh_token"])
        response = Response(issued.as_response())
        set_auth_cookies(response, issued)
        return response


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: OpenApiResponse(description="signed out; cookies cleared"), **_errors(401, 403, 429)},
    )
    async def post(self, request: Request) -> Response:
        await services.logout(request.user)
        response = Response(status=204)
        clear_auth_cookies(response)
        return response


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: MeSerializer, **_errors(401, 429)})
    async def get(self, request: Request) -> Response:
        return Response(await services.me(request.user.user_id))

"""The project's URLs plus views that exercise the API conventions in isolation."""

from __future__ import annotations

from adrf.views import APIView
from django.http import JsonResponse
from django.urls import path
from rest_framework import serializers

from apps.core.api import validated
from apps.core.db.errors import DatabaseUnavailable
from gotong.urls import handler404, handler500, urlpatterns  # noqa: F401 - Django reads the handlers here


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    count = serializers.IntegerField(min_value=0)


class EchoView(APIView):
    async def post(self, request):
        data = validated(EchoSerializer, request.data)
        return JsonResponse(data, status=201)


class CrashView(APIView):
    async def get(self, request):
        raise RuntimeError("secret internal detail /etc/passwd")


class DatabaseDownView(APIView):
    async def get(self, request):
        raise DatabaseUnavailable()


urlpatterns = [
    *urlpatterns,
    path("v1/_test/echo", EchoView.as_view()),
    path("v1/_test/crash", CrashView.as_view()),
    path("v1/_test/db-down", DatabaseDownView.as_view()),
]

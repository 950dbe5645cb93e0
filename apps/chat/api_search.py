"""JSON endpoints of the conversation features: message search, mention autocomplete, typing.

Thin views: the input serializer validates, a service decides (``search``, ``mentions``, ``typing``).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import mentions, search, typing
from apps.chat.api import THREAD_ID, ChatView, _errors, _query
from apps.chat.serializers import NON_BLANK

# -- input ---------------------------------------------------------------------------


class SearchQuery(serializers.Serializer):
    # Documented pattern = enforced rule (schema-driven clients and the fuzzer see the same rule):
    # at least one non-blank character, no NUL; not trimmed here (the service trims).
    q = serializers.RegexField(
        NON_BLANK,
        min_length=1,
        max_length=search.QUERY_MAX,
        trim_whitespace=False,
        help_text="words to find (1..200 characters, not blank; stemmed, case- and accent-insensitive; all words)",
    )
    thread_id = serializers.RegexField(
        r"^[^\x00]+$", max_length=128, trim_whitespace=False, required=False, help_text="only this thread"
    )
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=10_000, required=False, default=0)


class MentionCandidatesQuery(serializers.Serializer):
    prefix = serializers.RegexField(
        r"^[A-Za-z0-9_.-]*$",
        max_length=64,
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        help_text="start of a username (case-insensitive); empty lists every member",
    )
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=8)


# -- output --------------------------------------------------------------------------


class SearchAuthorSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField(allow_null=True)


class SearchResultSerializer(serializers.Serializer):
    thread_id = serializers.CharField()
    thread_title = serializers.CharField(allow_null=True)
    message_id = serializers.CharField()
    seq = serializers.IntegerField()
    author = SearchAuthorSerializer()
    created_at_ms = serializers.IntegerField()
    edited_at_ms = serializers.IntegerField(allow_null=True)
    moderation_status = serializers.CharField(allow_null=True)
    snippet_html = serializers.CharField(
        help_text="HTML-escaped text around the first match; the only markup is <mark>…</mark> around matches"
    )
    url = serializers.CharField(help_text="the message in its thread: /threads/{thread_id}?seq={seq}#m-{seq}")


class SearchPageSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = SearchResultSerializer(many=True)
    next_offset = serializers.IntegerField(allow_null=True, help_text="null on the last page")


class MentionCandidateSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField()


class TypingSerializer(serializers.Serializer):
    published = serializers.BooleanField(help_text="false when throttled (one announcement per 3 s)")


# -- views ---------------------------------------------------------------------------


class SearchView(ChatView):
    @extend_schema(
        operation_id="chat_search",
        parameters=[SearchQuery],
        responses={200: SearchPageSerializer, **_errors(400, 401, 403, 404, 429)},
        description="Messages of the threads the caller is an active member of, newest first. Deleted messages "
        "never match; held or rejected ones only for their author and moderators.",
    )
    async def get(self, request: Request) -> Response:
        query = _query(request, SearchQuery)
        return Response(
            await search.search_messages(
                request.user,
                query=query["q"],
                thread_id=query.get("thread_id"),
                limit=query["limit"],
                offset=query["offset"],
            )
        )


class MentionCandidatesView(ChatView):
    @extend_schema(
        operation_id="chat_mention_candidates",
        parameters=[THREAD_ID, MentionCandidatesQuery],
        responses={200: MentionCandidateSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
        description="Active members of the thread whose username starts with `prefix` (for @mention autocomplete).",
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        query = _query(request, MentionCandidatesQuery)
        return Response(
            await mentions.mention_candidates(request.user, thread_id, prefix=query["prefix"], limit=query["limit"])
        )


class TypingView(ChatView):
    @extend_schema(
        operation_id="chat_typing",
        parameters=[THREAD_ID],
        request=None,
        responses={202: TypingSerializer, **_errors(401, 403, 404, 429)},
        description="Announce that the caller is typing: a `typing` stream event to the thread's other members, "
        "never stored. Throttled to one per 3 s per member and thread (then `published: false`).",
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        return Response({"published": await typing.announce(request.user, thread_id)}, status=202)

"""One validator per operation: the request serializer that drf-spectacular publishes is the one that
parses the body, for the API, the admin site and the worker alike, with the API's long-standing messages."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.db import run_sync
from apps.core.errors import ValidationFailed
from apps.moderation import serializers, services
from apps.moderation.domain import SYSTEM, DecisionInput, ReportInput
from tests.moderation.conftest import decision, ledger_count
from tests.support.openapi_inputs import spy_on_validated

VALID = {
    "content_id": "item-1",
    "content_type": "chat_message",
    "moderation_status": "rejected",
    "moderation_action": "block",
    "reason_code": "spam",
}
HOLD = {**VALID, "moderation_status": "under_review", "moderation_action": "hold_for_review"}
CONTENT_ID = "1..128 characters of letters, digits, '_' or '-'"

# (body, the answer's message after "validation failed: ") — the words the API has always used.
DECISION_MESSAGES = [
    ({**VALID, "content_id": 5}, f"content_id: {CONTENT_ID}"),
    ({**VALID, "content_id": "item-1\n"}, f"content_id: {CONTENT_ID}"),  # Python's `$` let a final newline through
    ({**VALID, "content_type": None}, "content_type: must be one of chat_message, contribution, evidence, user"),
    (
        {**VALID, "moderation_action": "ban"},
        "moderation_action: must be one of publish_now, publish_with_warning, hold_for_review, block",
    ),
    ({**VALID, "reason_code": " \t"}, "reason_code: must not be blank"),
    ({**VALID, "reason_code": "é" * 300}, "reason_code: at most 512 bytes"),
    ({**VALID, "reason_code": "a\x00"}, "reason_code: must not contain NUL characters"),
    ({**VALID, "reason_code": 5}, "reason_code: must be a string"),
    ({**VALID, "confidence": True}, "confidence: must be a number between 0 and 1"),
    ({**VALID, "confidence": "0.5"}, "confidence: must be a number between 0 and 1"),
    ({**VALID, "author_id": ""}, f"author_id: {CONTENT_ID}"),
    ({**VALID, "auto_release_if_no_action": "true"}, "auto_release_if_no_action: must be a boolean"),
    ({**VALID, "author_username": "a" * 65}, "author_username: at most 64 characters"),
    ({**HOLD, "hold_duration_minutes": "5"}, "hold_duration_minutes: must be an integer"),
    ({**VALID, "appeal_window_minutes": 0}, "appeal_window_minutes: must be between 1 and 525600"),
    ({**VALID, "violations": [{"category": "a"}] * 21}, "violations: must be a list of at most 20 objects"),
    ({**VALID, "violations": [{"category": "a"}, "x"]}, "violations: each violation must be an object"),
    ({**VALID, "violations": [{"category": ""}]}, "category: must not be blank"),
    ({**VALID, "violations": [{"category": "a", "severity": 5}]}, "severity: must be a string"),
    (
        {**VALID, "moderation_action": "publish_now"},
        "moderation_action: publish_now contradicts moderation_status rejected",
    ),
    (HOLD, "hold_duration_minutes: a hold needs hold_duration_minutes >= 1"),
    (
        {**VALID, "hold_duration_minutes": 5},
        "hold_duration_minutes: only a hold_for_review decision has a hold duration",
    ),
    ({**VALID, "reason_code": "", "confidence": 5}, "reason_code: must not be blank"),  # the first in check order
    ([VALID], "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "message"), DECISION_MESSAGES)
def test_decision_problems_keep_their_messages(body: Any, message: str):
    with pytest.raises(ValidationFailed) as caught:
        serializers.decision_input(body)
    assert caught.value.message == f"validation failed: {message}"


def test_several_problems_are_all_listed_the_first_one_named():
    with pytest.raises(ValidationFailed) as caught:
        serializers.decision_input({**VALID, "reason_code": "", "confidence": 5})
    assert caught.value.details["fields"] == {
        "reason_code": ["must not be blank"],
        "confidence": ["must be a number between 0 and 1"],
    }


def test_a_decision_is_parsed_as_it_always_was():
    """null means the default, "" an absent text; texts are kept as sent; violations get every key."""
    parsed = serializers.decision_input({
        **VALID, "confidence": None, "auto_release_if_no_action": None, "author_username": "", "reasoning": "  why  ",
        "violations": [{"category": "insult", "snippet": "", "extra": 1}], "appeal_window_minutes": 60,
    })  # fmt: skip
    assert parsed == DecisionInput(
        content_id="item-1",
        content_type="chat_message",
        moderation_status="rejected",
        moderation_action="block",
        reason_code="spam",
        confidence=1.0,
        reasoning="  why  ",
        appeal_window_minutes=60,
        violations=[{"category": "insult", "severity": None, "snippet": None, "reason": None}],
    )
    assert serializers.decision_input({**VALID, "confidence": 0}).confidence == 0.0


def test_report_and_appeal_bodies_keep_their_messages():
    report = {"content_type": "chat_message", "content_id": "item-1", "reason": "spam"}
    assert serializers.report_input({**report, "note": ""}) == ReportInput("chat_message", "item-1", "spam", None)
    for body, message in (
        ({**report, "content_id": "a/b"}, f"content_id: {CONTENT_ID}"),
        (
            {**report, "reason": "rude"},
            "reason: must be one of spam, harassment, misinformation, violence, privacy, other",
        ),
        ({**report, "note": "n" * 501}, "note: at most 500 characters"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            serializers.report_input(body)
        assert caught.value.message == f"validation failed: {message}"
    assert serializers.appeal_statement({"statement": " it was a joke "}) == " it was a joke "
    with pytest.raises(ValidationFailed) as caught:
        serializers.appeal_statement({"statement": "\u00a0"})
    assert caught.value.message == "validation failed: statement: must not be blank"


def test_the_service_parses_bodies_with_the_same_serializer():
    """The admin site, the worker and the community hold hand bodies to ``decide``: same validator, same words."""
    with pytest.raises(ValidationFailed) as caught:
        run_sync(services.decide, SYSTEM, {**VALID, "violations": [{"category": ""}]})
    assert caught.value.message == "validation failed: category: must not be blank"
    assert ledger_count() == 0


@pytest.fixture(scope="module")
def published_requests() -> dict[str, str]:
    """operationId → the request body's component in the OpenAPI document the server publishes."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = {}
    for path in ("/v1/moderations", "/v1/moderations/{content_id}/appeals", "/v1/reports"):
        operation = schema["paths"][path]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        found[operation["operationId"]] = ref.rsplit("/", 1)[-1]
    return found


def test_every_operation_is_parsed_by_the_serializer_it_publishes(make_user, monkeypatch, published_requests):
    author, mod = make_user("ana"), make_user("mia", role="moderator")
    thread = author.thread()
    message = author.send(thread, "hello")["message_id"]
    used = spy_on_validated(monkeypatch, serializers)
    calls = {
        "moderations_create": lambda: mod.post("/v1/moderations", decision(message)),
        "moderations_appeal": lambda: author.post(f"/v1/moderations/{message}/appeals", {"statement": "a joke"}),
        "reports_create": lambda: mod.post(
            "/v1/reports", {"content_type": "user", "content_id": author.user_id, "reason": "spam"}
        ),
    }
    for operation_id, call in calls.items():
        used.clear()
        response = call()
        assert response.status_code == 201, response.content
        # COMPONENT_SPLIT_REQUEST names a request component "<serializer name without Serializer>Request".
        assert [cls.__name__.removesuffix("Serializer") + "Request" for cls in used] == [
            published_requests[operation_id]
        ], operation_id


def test_the_api_answers_with_the_serializers_message(make_user):
    mod = make_user("mia", role="moderator")
    response = mod.post("/v1/moderations", {**VALID, "violations": [{"category": "a", "reason": "r\x00"}]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "validation failed: reason: must not contain NUL characters"
    assert response.json()["error"]["details"]["fields"] == {"reason": ["must not contain NUL characters"]}
    assert ledger_count() == 0

"""One validator per operation (issue 13): the serializer that parses a chat request body is the published one.

The status codes of refused bodies are covered by test_api and test_attachments; this file covers what the
merge of the documentation-only serializers into the validating ones must keep: the document names the
validating serializer of every chat operation with a body, each view parses with exactly that serializer,
and the answers keep their words (DRF's, and the chat API's own).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from apps.chat import api, api_attachments
from apps.chat import serializers as s
from tests.evidence.fixtures import png
from tests.support.openapi_inputs import component_name, request_bodies, spy_on_validated

T = "/v1/chat/threads"
UPLOAD = "/v1/chat/attachments/upload"
ATTACHMENT = {"attachment_id": "a" * 32}

# operationId → (media type, the serializer that parses the body).
REQUEST_BODIES: dict[str, tuple[str, type]] = {
    "chat_threads_create": ("application/json", s.ThreadCreateSerializer),
    "chat_members_add": ("application/json", s.AddMemberSerializer),
    "chat_member_mute": ("application/json", s.MuteSerializer),
    "chat_messages_send": ("application/json", s.SendSerializer),
    "chat_message_edit": ("application/json", s.EditSerializer),
    "chat_read_cursor_set": ("application/json", s.CursorSerializer),
    "chat_telemetry": ("application/json", s.TelemetrySerializer),
    "chat_attachment_upload": ("multipart/form-data", s.AttachmentFileSerializer),
}


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_chat_operation_with_a_body_is_listed(document):
    """A new operation (or one published from another class) must be added to the table, so it is checked."""
    assert set(request_bodies(document, "/v1/chat/")) == set(REQUEST_BODIES)


@pytest.mark.parametrize(("operation_id", "expected"), REQUEST_BODIES.items(), ids=list(REQUEST_BODIES))
def test_each_body_is_published_as_its_validator(document, operation_id, expected):
    media_type, serializer = expected
    body = request_bodies(document, "/v1/chat/")[operation_id]
    assert body["required"] is True
    assert body["content"] == {media_type: {"schema": {"$ref": f"#/components/schemas/{component_name(serializer)}"}}}
    published = document["components"]["schemas"][component_name(serializer)]["properties"]
    assert list(published) == list(serializer().fields)


def test_the_published_rules_are_the_ones_that_used_to_be_documented_apart(document):
    schemas = document["components"]["schemas"]
    nul, non_blank = "^[^\\u0000]*$", "^[^\\u0000]*[^\\u0000\\s\\u001c-\\u001f\\u0085][^\\u0000]*$"
    create = schemas["ThreadCreateRequest"]
    assert sorted(create["required"]) == ["privacy_level", "scope_id"]
    assert create["properties"]["scope_id"] == {"type": "string", "minLength": 1, "maxLength": 128, "pattern": nul}
    title = create["properties"]["title"]
    assert title["nullable"] is True
    assert title["oneOf"][0] == {"type": "string", "maxLength": 200, "pattern": nul}
    for name in ("SendRequest", "EditRequest"):
        body = schemas[name]["properties"]["body"]
        assert (body["minLength"], body["maxLength"], body["pattern"]) == (1, s.BODY_MAX, non_blank), name
        assert schemas[name]["required"] == ["body"], name
    attachments = schemas["SendRequest"]["properties"]["attachments"]
    assert (attachments["maxItems"], attachments["uniqueItems"]) == (s.MAX_ATTACHMENTS, True)
    assert attachments["items"] == {"$ref": "#/components/schemas/AttachmentRefRequest"}
    upload = schemas["AttachmentFileRequest"]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"


def test_every_view_parses_with_the_serializer_it_publishes(chat, local_storage, monkeypatch):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    used = spy_on_validated(monkeypatch, api, api_attachments)
    tid = chat.thread(ana, privacy="private")["thread_id"]
    message = chat.send(ana, tid).json()["message_id"]
    file = SimpleUploadedFile("a.png", png(), "image/png")
    calls = {
        "chat_threads_create": lambda: chat.call("post", T, ana, {"scope_id": "s1", "privacy_level": "public"}),
        "chat_members_add": lambda: chat.call("post", f"{T}/{tid}/members", ana, {"user_id": bob.user_id}),
        "chat_member_mute": lambda: chat.call("post", f"{T}/{tid}/members/{bob.user_id}/mute", ana, {"minutes": 5}),
        "chat_messages_send": lambda: chat.call("post", f"{T}/{tid}/messages/send", ana, {"body": "hi"}),
        "chat_message_edit": lambda: chat.call("patch", f"{T}/{tid}/messages/{message}", ana, {"body": "hey"}),
        "chat_read_cursor_set": lambda: chat.call("post", f"{T}/{tid}/read-cursor", ana, {"seq": 1}),
        "chat_telemetry": lambda: chat.call(
            "post", "/v1/chat/telemetry", ana, {"from": "websocket", "to": "sse", "reason": "r"}
        ),
        "chat_attachment_upload": lambda: chat.client.post(UPLOAD, {"file": file}, **ana.headers),
    }
    assert set(calls) == set(REQUEST_BODIES)
    for operation_id, call in calls.items():
        used.clear()
        response = call()
        assert response.status_code in (200, 201, 204), (operation_id, response.content)
        assert used == [REQUEST_BODIES[operation_id][1]], operation_id


def _refusal(response) -> tuple[str, dict]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    return error["message"], error["details"]["fields"]


def test_thread_create_messages(chat):
    ana = chat.signup("ana")

    def refusal(**body: Any) -> tuple[str, dict]:
        return _refusal(chat.call("post", T, ana, {"scope_id": "s", "privacy_level": "public", **body}))

    assert refusal(scope_id=5) == (
        "validation failed: scope_id: Not a valid string.",
        {"scope_id": ["Not a valid string."]},
    )
    # The published pattern is the NUL check: one message per field, not one from each.
    assert refusal(scope_id="s\x00", title="t\x00") == (
        "validation failed: scope_id: Null characters are not allowed.",
        {"scope_id": ["Null characters are not allowed."], "title": ["Null characters are not allowed."]},
    )
    assert refusal(scope_id="")[0] == "validation failed: scope_id: This field may not be blank."
    assert refusal(title="x" * 201)[0] == "validation failed: title: Ensure this field has no more than 200 characters."
    created = chat.call("post", T, ana, {"scope_id": " s ", "privacy_level": "public", "title": ""})
    assert created.status_code == 201, created.content
    assert (created.json()["scope_id"], created.json()["title"]) == (" s ", None)  # not trimmed; blank title: none


def test_message_body_messages(chat):
    ana = chat.signup("ana")
    tid = chat.thread(ana)["thread_id"]
    message = chat.send(ana, tid).json()["message_id"]
    send = f"{T}/{tid}/messages/send"
    edit = f"{T}/{tid}/messages/{message}"
    for method, path in (("post", send), ("patch", edit)):
        for blank in ("", " \t", "\x1c\x85 "):
            assert _refusal(chat.call(method, path, ana, {"body": blank})) == (
                "validation failed: must not be empty",
                {"body": ["must not be empty"]},
            )
        # Every failed check is listed, in DRF's order (length after trimming, then NUL).
        assert _refusal(chat.call(method, path, ana, {"body": " " + "a\x00" * 1001}))[1] == {
            "body": ["Ensure this field has no more than 2000 characters.", "Null characters are not allowed."]
        }
        assert (
            _refusal(chat.call(method, path, ana, {"body": None}))[0]
            == "validation failed: This field may not be null."
        )
    edited = chat.call("patch", edit, ana, {"body": "  edited \n"})
    assert edited.status_code == 200
    assert edited.json()["body"] == "edited"


def test_attachment_list_messages(chat):
    ana = chat.signup("ana")
    path = f"{T}/{chat.thread(ana)['thread_id']}/messages/send"
    over = chat.call("post", path, ana, {"body": "x", "attachments": [ATTACHMENT] * (s.MAX_ATTACHMENTS + 1)})
    assert _refusal(over)[0] == (
        "validation failed: attachments: non_field_errors: Ensure this field has no more than 20 elements."
    )
    extra = chat.call("post", path, ana, {"body": "x", "attachments": [ATTACHMENT, {**ATTACHMENT, "x": 1}]})
    assert _refusal(extra)[0] == "validation failed: attachments: 1: attachment_id: unknown key(s) next to it: x"


def test_upload_messages(chat, local_storage):
    ana = chat.signup("ana")
    problem = ("validation failed: file: send exactly one file, in the part named 'file'", {"file": [s.UPLOAD_PROBLEM]})

    def part(name: str = "a.png", data: bytes | None = None) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, png() if data is None else data, "image/png")

    assert _refusal(chat.client.post(UPLOAD, {}, **ana.headers)) == problem
    assert _refusal(chat.client.post(UPLOAD, {"file": [part(), part("b.png")]}, **ana.headers)) == problem
    assert _refusal(chat.client.post(UPLOAD, {"file": part(), "other": part("b.png")}, **ana.headers)) == problem
    assert _refusal(chat.client.post(UPLOAD, {"photo": part()}, **ana.headers)) == problem
    # An empty file passes the serializer: the upload service answers it in its own words.
    empty = chat.client.post(UPLOAD, {"file": part(data=b"")}, **ana.headers)
    assert empty.status_code == 400
    assert empty.json()["error"]["details"]["reason"] == "empty"

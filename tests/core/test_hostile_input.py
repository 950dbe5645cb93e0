"""Hostile request bodies, paths and headers (issue 12): every one gets a 4xx envelope and writes nothing.

Bodies are parsed in one place (``apps.core.api.StrictJSONParser``), so each endpoint family is
probed with the same inputs through Django's test client; the real server (daphne and uvicorn, each
started by ``live_server_factory``) is probed over raw sockets for what only a socket can send: chunked and
truncated bodies, enormous headers, undecoded traversal in static paths.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.accounts.repository import AccountsRepository
from apps.core.db import run_sync
from gotong.config import ASGI_SERVERS
from tests.support.api_user import ApiUser

PASSWORD = "correct horse battery"
MAX_BODY = 1_048_576  # gotong/config.py default MAX_BODY_BYTES


# -- helpers --------------------------------------------------------------------------


def signup(client: Client, name: str, role: str | None = None) -> ApiUser:
    response = client.post(
        "/v1/auth/signup",
        {"email": f"{name}@example.com", "username": name, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    user = ApiUser(Client(), response.json())
    if role:
        run_sync(AccountsRepository().set_user_fields, user.user_id, {"role": role})
    return user


def row_counts(db) -> dict[str, int]:
    """Rows of every table of the test namespace: "nothing is written" means this does not change."""
    info = run_sync(db.query, "INFO FOR DB;")[0]
    counts: dict[str, int] = {}
    for table in sorted(info["tables"]):
        rows = run_sync(db.query, f"SELECT count() AS n FROM `{table}` GROUP ALL;")[0]
        counts[table] = rows[0]["n"] if rows else 0
    return counts


def assert_envelope(response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str), error
    assert isinstance(error["message"], str), error
    return error


@pytest.fixture
def world(api: Client) -> dict[str, Any]:
    """A member with a thread and a contribution, a moderator and an admin; refresh token of the member."""
    member = signup(api, "mia")
    refresh = api.post(
        "/v1/auth/signin", {"email": "mia@example.com", "password": PASSWORD}, content_type="application/json"
    )
    assert refresh.status_code == 200, refresh.content
    moderator = signup(api, "moe", "moderator")
    admin = signup(api, "ada", "admin")
    thread = member.post("/v1/chat/threads", {"scope_id": "s1", "privacy_level": "public", "title": "t"})
    assert thread.status_code == 201, thread.content
    contribution = member.post("/v1/contributions", {"title": "Pump", "contribution_type": "community_service"})
    assert contribution.status_code == 201, contribution.content
    return {
        "member": member,
        "refresh_token": refresh.json()["refresh_token"],
        "moderator": moderator,
        "admin": admin,
        "thread_id": thread.json()["thread_id"],
        "contribution_id": contribution.json()["contribution_id"],
    }


# (family, who calls it, path) — one creating endpoint per family; "anon" calls without a token.
FAMILIES: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("auth.signup", "anon", lambda w: "/v1/auth/signup"),
    ("auth.signin", "anon", lambda w: "/v1/auth/signin"),
    ("auth.refresh", "anon", lambda w: "/v1/auth/refresh"),
    ("chat.send", "member", lambda w: f"/v1/chat/threads/{w['thread_id']}/messages/send"),
    ("chat.threads", "member", lambda w: "/v1/chat/threads"),
    ("contributions", "member", lambda w: "/v1/contributions"),
    ("evidence", "member", lambda w: "/v1/evidence"),
    ("evidence.uploads", "member", lambda w: "/v1/evidence/uploads"),
    ("vouches", "member", lambda w: "/v1/vouches"),
    ("moderations", "moderator", lambda w: "/v1/moderations"),
    ("reports", "member", lambda w: "/v1/reports"),
    ("webhooks.replay", "admin", lambda w: "/v1/admin/webhooks/outbox/replay"),
]

# A body each endpoint would accept (or reject only for business reasons); NUL goes into its strings.
VALID_BODIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "auth.signup": lambda w: {"email": "new@example.com", "username": "newbie", "password": PASSWORD},
    "auth.signin": lambda w: {"email": "mia@example.com", "password": PASSWORD},
    "auth.refresh": lambda w: {"refresh_token": w["refresh_token"]},
    "chat.send": lambda w: {"body": "hello", "attachments": []},
    "chat.threads": lambda w: {"scope_id": "s1", "privacy_level": "public", "title": "t"},
    "contributions": lambda w: {"title": "Pump", "contribution_type": "community_service"},
    "evidence": lambda w: {"contribution_id": w["contribution_id"], "evidence_type": "witness_attestation"},
    "evidence.uploads": lambda w: {
        "contribution_id": w["contribution_id"],
        "file_name": "a.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 100,
        "sha256": "0" * 64,
    },
    "vouches": lambda w: {"vouchee_id": w["admin"].user_id, "weight": 1, "message": "good"},
    "moderations": lambda w: {
        "content_id": w["contribution_id"],
        "content_type": "contribution",
        "moderation_status": "rejected",
        "moderation_action": "block",
        "reason_code": "spam",
        "confidence": 0.9,
    },
    "reports": lambda w: {"content_id": w["contribution_id"], "content_type": "contribution", "reason": "spam"},
    "webhooks.replay": lambda w: {"status": "dead_letter", "limit": 10},
}


def with_nul(body: dict[str, Any], key: str) -> bytes:
    return json.dumps({**body, key: body[key][:1] + "\x00" + body[key][1:]}).encode()


DEEP_LIST = b"[" * 5000
DEEP_OBJECT = b'{"a":' * 5000
# Each body below would create something if its hostile part were ignored (valid fields around it).
HOSTILE_BODIES: dict[str, bytes] = {
    "deep_list": DEEP_LIST,
    "deep_object": DEEP_OBJECT,
    "deep_closed": b"[" * 200 + b"]" * 200,  # well-formed, but deeper than 64
    "deep_in_field": b'{"title": "x", "extra": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    "surrogate_unknown_field": b'{"title": "Pump", "contribution_type": "community_service", "zzz": "\\ud83d"}',
    "surrogate_value": b'{"email": "a@example.com", "username": "x\\ud83d", "password": "pw", "body": "\\udc00"}',
    "surrogate_key": b'{"\\ud83d": 1, "title": "Pump"}',
    "invalid_utf8": b'{"title": "\xff\xfe", "body": "\xc3"}',
    "nan": b'{"confidence": NaN, "limit": Infinity}',
}


def _send(client: Client, who: str, world: dict[str, Any], path: str, body: bytes, **extra: str):
    headers = {"HTTP_X_REQUEST_ID": str(uuid.uuid4()), **extra}
    if who != "anon":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {world[who].token}"
    return client.generic("POST", path, body, content_type="application/json", **headers)


# -- bodies through the test client ------------------------------------------------------


@pytest.mark.parametrize(("family", "who", "path"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_hostile_bodies_get_400_envelope_and_write_nothing(api, surreal_db, world, family, who, path):
    before = row_counts(surreal_db)
    for name, body in HOSTILE_BODIES.items():
        response = _send(api, who, world, path(world), body)
        envelope = assert_envelope(response, 400)
        assert envelope["code"] == "validation_error", (name, envelope)
    assert row_counts(surreal_db) == before


@pytest.mark.parametrize(("family", "who", "path"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_nul_in_any_text_field_is_a_400_envelope(api, surreal_db, world, family, who, path):
    """NUL is refused by each text field (the parser lets it through: see ``check_json_value``)."""
    before = row_counts(surreal_db)
    valid = VALID_BODIES[family](world)
    for key in [k for k, v in valid.items() if isinstance(v, str)]:
        response = _send(api, who, world, path(world), with_nul(valid, key))
        envelope = assert_envelope(response, 400)
        assert envelope["code"] == "validation_error", (key, envelope)
    assert row_counts(surreal_db) == before


def test_nul_in_upload_file_name_is_refused(api, surreal_db, world):
    """Found by the test above: the upload's file name was stored with its NUL."""
    before = row_counts(surreal_db)
    body = with_nul(VALID_BODIES["evidence.uploads"](world), "file_name")
    assert_envelope(_send(api, "member", world, "/v1/evidence/uploads", body), 400)
    assert row_counts(surreal_db) == before


@pytest.mark.parametrize(("family", "who", "path"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_oversized_bodies_and_lengths_get_4xx_envelope(api, surreal_db, world, family, who, path):
    before = row_counts(surreal_db)
    ten_mb = json.dumps({"title": "x" * 10_000_000, "body": "y"}).encode()
    assert assert_envelope(_send(api, who, world, path(world), ten_mb), 413)["code"] == "payload_too_large"
    # Strings just under the limit in every field the endpoints know: the fields' own rules refuse them.
    fields = ("title", "body", "username", "email", "reason", "status", "content_id", "contribution_id")
    big = json.dumps(dict.fromkeys(fields, "x" * (MAX_BODY // 10))).encode()
    assert len(big) < MAX_BODY
    assert_envelope(_send(api, who, world, path(world), big), 400, 401)
    # Content-Length that is not a number, negative, or announces more than the body holds.
    for length in ("abc", "-5"):
        response = _send(api, who, world, path(world), b"{}", CONTENT_LENGTH=length)
        assert assert_envelope(response, 400)["code"] == "validation_error"
    # A chunked body that the server in front did not de-chunk is refused, not read as empty.
    response = _send(
        api, who, world, path(world), b'{"title": "x"}', CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert assert_envelope(response, 400)["details"]["fields"]["Transfer-Encoding"]
    assert row_counts(surreal_db) == before


def test_truncated_json_body_is_a_400_envelope(api, surreal_db, world):
    before = row_counts(surreal_db)
    member = world["member"]
    for body in (b'{"title": "Pump", "contribution_type": "commun', b"[", b'{"a":', b'"\\ud8'):
        response = _send(api, "member", world, "/v1/contributions", body)
        assert assert_envelope(response, 400)["code"] == "validation_error"
    assert member.get("/v1/contributions").status_code == 200
    assert row_counts(surreal_db) == before


def test_enormous_headers_get_4xx_envelope(api, surreal_db, world):
    before = row_counts(surreal_db)
    huge = "a" * 200_000
    body = json.dumps({"title": "Pump", "contribution_type": "community_service"}).encode()
    response = api.generic(
        "POST", "/v1/contributions", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {huge}"
    )
    assert assert_envelope(response, 401)["code"] == "unauthorized"
    response = _send(api, "member", world, "/v1/contributions", body, HTTP_X_REQUEST_ID=huge)
    assert assert_envelope(response, 400)["details"]["fields"]["X-Request-ID"]
    response = _send(api, "anon", world, "/v1/auth/signin", b"{}", HTTP_COOKIE=f"gr_session={huge}; gr_refresh={huge}")
    assert_envelope(response, 400, 401)
    response = api.get("/v1/contributions", HTTP_HOST="evil.example:1" + huge[:5000])
    assert assert_envelope(response, 400)["code"] == "validation_error"
    response = _send(api, "member", world, "/v1/contributions", b'{"title": 1}', HTTP_X_HOSTILE="\x00" + huge)
    assert_envelope(response, 400)
    assert row_counts(surreal_db) == before


TRAVERSALS = ["..%2f..%2fgotong%2fsettings.py", "%2e%2e", "..%5c..%5cetc", "x%00y", "%ff%fe", "a" * 5000]


def test_traversal_in_every_path_parameter_is_a_4xx_envelope(api, surreal_db, world):
    before = row_counts(surreal_db)
    member, moderator, admin = world["member"], world["moderator"], world["admin"]
    thread, contribution = world["thread_id"], world["contribution_id"]
    for bad in TRAVERSALS:
        gets = [
            (member, f"/v1/contributions/{bad}"),
            (member, f"/v1/contributions/{bad}/evidence"),
            (member, f"/v1/evidence/{bad}"),
            (member, f"/v1/evidence/{bad}/media"),
            (member, f"/v1/chat/threads/{bad}"),
            (member, f"/v1/chat/threads/{bad}/messages"),
            (member, f"/v1/chat/threads/{thread}/messages/{bad}"),
            (moderator, f"/v1/moderations/{bad}"),
            (admin, f"/v1/admin/webhooks/outbox/{bad}"),
            (admin, f"/v1/admin/webhooks/outbox/{bad}/logs"),
            (None, f"/v1/transparency/entries/{bad}"),
            (None, f"/v1/transparency/proofs/inclusion?index={bad}&tree_size={bad}"),
            (None, f"/v1/transparency/proofs/consistency?first={bad}&second=1"),
            (None, f"/storage/local/{bad}"),
            (None, f"/static/{bad}"),
        ]
        for user, path in gets:
            headers = {"HTTP_AUTHORIZATION": f"Bearer {user.token}"} if user else {}
            response = api.get(path, **headers)
            assert_envelope(response, 400, 403, 404, 405)
        posts = [
            (member, f"/v1/chat/threads/{bad}/messages/send", {"body": "hi", "attachments": []}),
            (member, f"/v1/chat/threads/{bad}/join", {}),
            (member, f"/v1/chat/threads/{thread}/members/{bad}/mute", {"muted": True}),
            (member, f"/v1/evidence/uploads/{bad}/confirm", {}),
            (moderator, f"/v1/moderations/{bad}/appeals", {"reason": "x"}),
            (admin, f"/v1/admin/webhooks/outbox/{bad}/replay", {}),
        ]
        for user, path, body in posts:
            assert_envelope(user.post(path, body), 400, 403, 404, 405)
        # Path parameters in bodies: the same ids as values.
        response = member.post("/v1/evidence", {"contribution_id": bad, "evidence_type": "photo_with_timestamp"})
        assert_envelope(response, 400, 403, 404)
    assert member.get(f"/v1/contributions/{contribution}").status_code == 200
    assert row_counts(surreal_db) == before


def test_valid_bodies_still_work_after_the_strict_parser(api, world):
    """The strict parser keeps ordinary JSON (unicode, escapes, nesting within the limit)."""
    member = world["member"]
    response = member.post(
        "/v1/contributions", {"title": "Pompa air 💧 \u00e9", "contribution_type": "community_service"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "Pompa air 💧 \u00e9"
    escaped = b'{"title": "\\ud83d\\udca7 pair", "contribution_type": "community_service"}'  # a valid surrogate pair
    response = _send(api, "member", world, "/v1/contributions", escaped)
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "💧 pair"


def test_parser_depth_limit_is_exactly_64():
    from rest_framework.exceptions import ParseError

    from apps.core.api import MAX_JSON_DEPTH, parse_json_body

    assert MAX_JSON_DEPTH == 64
    assert parse_json_body(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(ParseError):
        parse_json_body(b"[" * 65 + b"]" * 65)
    with pytest.raises(ParseError):
        parse_json_body(b'{"a": {"b": ' * 40 + b"1" + b"}}" * 40)


def test_idempotency_hash_never_raises_on_lone_surrogates():
    from apps.core.idempotency import body_hash

    assert body_hash({"x": "\ud83d"}) != body_hash({"x": "\ud83e"})
    assert len(body_hash("\ud83d")) == 64


# -- the real server (each ASGI server ``serve`` can run) over raw sockets ----------------


def raw_request(port: int, data: bytes, *, half_close: bool = False, timeout: float = 20) -> bytes:
    """Send bytes as they are; return everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if _complete(b"".join(chunks)):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse(answer: bytes) -> tuple[int, dict[str, Any] | None]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    try:
        return status, json.loads(body)["error"] if status >= 400 else json.loads(body)
    except (ValueError, KeyError, TypeError):
        return status, None


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


def http(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("asgi_server", ASGI_SERVERS)
def head_is_cut_off(port: int, total: int = 64 << 20) -> bool:
    """Stream a header value of ``total`` bytes: True when the server stops reading it (it answers and closes).

    A server that kept every header byte in memory would take all of it; one with a bound refuses after a few
    KiB and closes, so the send fails long before ``total`` (the kernel buffers hold a few MiB at most).
    """
    piece = b"e" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            sock.sendall(b"GET /v1/contributions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
            for _ in range(total // len(piece)):
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


@pytest.mark.parametrize("asgi_server", ASGI_SERVERS)
def test_real_server_reads_chunked_bodies_and_refuses_hostile_input(live_server_factory, asgi_server):
    server = live_server_factory(ASGI_SERVER=asgi_server)
    port = server.port
    ident = {"email": "chunk@example.com", "username": "chunky", "password": PASSWORD}

    # Static traversal: a 404 envelope, not daphne's HTML 500.
    for path in (
        "/static/..%2fgotong%2fsettings.py",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/manage.py",
        "/static/css%00/site.css",
        "/static/..%5c..%5cmanage.py",
    ):
        status, body = parse(raw_request(port, http("GET", path, {})))
        assert status == 404, (path, status, body)
        assert body, (path, status, body)
        assert body["code"] == "not_found", (path, status, body)
    assert parse(raw_request(port, http("GET", "/static/css/site.css", {})))[0] == 200

    # Hostile JSON on unauthenticated sign-up: 400 envelopes, and the user is not created.
    for hostile in (
        DEEP_LIST,
        DEEP_OBJECT,
        HOSTILE_BODIES["surrogate_unknown_field"],
        with_nul(VALID_BODIES["auth.signup"]({}), "email"),
    ):
        headers = {"Content-Type": "application/json", "Content-Length": str(len(hostile))}
        status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, hostile)))
        assert status == 400, (status, body)
        assert body["code"] == "validation_error", (status, body)
    surrogate_signup = json.dumps({**ident, "zzz": "\ud83d"}, ensure_ascii=True).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(surrogate_signup))}
    status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, surrogate_signup)))
    assert status == 400, body
    assert body["code"] == "validation_error", body

    # Chunked: a valid body is read (sign-up succeeds) ...
    payload = json.dumps(ident).encode()
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, chunked(payload))))
    assert status == 201, body
    assert body["username"] == "chunky"
    signin = json.dumps({"email": ident["email"], "password": PASSWORD}).encode()
    status, body = parse(raw_request(port, http("POST", "/v1/auth/signin", headers, chunked(signin, 3))))
    assert status == 200, body
    assert body["access_token"], body
    authed = {**headers, "Authorization": f"Bearer {body['access_token']}"}
    thread = json.dumps({"scope_id": "s1", "privacy_level": "public", "title": "chunked"}).encode()
    status, body = parse(raw_request(port, http("POST", "/v1/chat/threads", authed, chunked(thread))))
    assert status == 201, body
    send_path = f"/v1/chat/threads/{body['thread_id']}/messages/send"
    message = json.dumps({"body": "lewat chunked", "attachments": []}).encode()
    status, body = parse(raw_request(port, http("POST", send_path, authed, chunked(message, 5))))
    assert status == 201, body
    assert body["body"] == "lewat chunked", body
    # Multipart bodies reach Django untouched: Twisted used to parse them first and answer an empty or broken
    # one with a bare 400 (no envelope, no access log line).
    bearer = {"Authorization": authed["Authorization"]}
    for multipart in (b"--c637--\r\n", b"--c637\r\nno headers, no end", b""):
        headers_mp = {**bearer, "Content-Type": "multipart/form-data; boundary=c637",
                      "Content-Length": str(len(multipart))}  # fmt: skip
        status, body = parse(raw_request(port, http("POST", "/v1/chat/attachments/upload", headers_mp, multipart)))
        assert status == 400, (multipart, status, body)
        assert body, (multipart, status, body)
        assert body["code"] == "validation_error", (multipart, body)
    for hostile in (DEEP_OBJECT, HOSTILE_BODIES["surrogate_value"]):
        status, body = parse(raw_request(port, http("POST", send_path, authed, chunked(hostile, 999))))
        assert status == 400, body
        assert body["code"] == "validation_error", body
    contribution = json.dumps({"title": "x" * 10_000_000}).encode()
    fixed = {"Content-Type": "application/json", "Content-Length": str(len(contribution))}
    fixed["Authorization"] = authed["Authorization"]
    status, body = parse(raw_request(port, http("POST", "/v1/contributions", fixed, contribution)))
    assert status == 413, body
    assert body["code"] == "payload_too_large", body
    # ... a hostile one is refused like any other ...
    status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, chunked(DEEP_LIST, 1000))))
    assert status == 400, body
    assert body["code"] == "validation_error", body
    # ... and one past the body limit gets 413 while it is being read.
    big = json.dumps({**ident, "email": "big@example.com", "pad": "x" * (MAX_BODY + 10)}).encode()
    status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, chunked(big, 65536))))
    assert status == 413, body
    assert body["code"] == "payload_too_large", body

    # Truncated body (Content-Length larger than what arrives): never a 500; nothing is created.
    truncated = json.dumps({**ident, "email": "cut@example.com", "username": "cut"}).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(truncated) + 50)}
    answer = raw_request(port, http("POST", "/v1/auth/signup", headers, truncated), half_close=True, timeout=5)
    assert not answer or 400 <= parse(answer)[0] < 500, answer[:300]

    # Enormous headers: 4xx (an envelope when the request reaches the application).
    for name, value in (("Authorization", "Bearer " + "a" * 12_000), ("X-Request-ID", "b" * 12_000)):
        status, body = parse(raw_request(port, http("GET", "/v1/contributions", {name: value})))
        assert status in (400, 401), (name, status)
        assert body, (name, status)
        assert body["code"] in ("unauthorized", "validation_error"), (name, status)
    many = {f"X-H{i}": "c" * 100 for i in range(600)}
    answer = raw_request(port, http("GET", "/v1/contributions", many))
    assert not answer or 400 <= parse(answer)[0] < 500, answer[:300]
    answer = raw_request(port, http("GET", "/v1/contributions", {"Cookie": "d" * 300_000}))
    assert not answer or 400 <= parse(answer)[0] < 500, answer[:300]
    assert head_is_cut_off(port), "the server kept reading a 64 MiB header"

    # Nothing half-written: the cut and refused sign-ups never created users; the server still serves.
    for email, username in (("cut@example.com", "cut"), ("big@example.com", "big")):
        fresh = json.dumps({"email": email, "username": username, "password": PASSWORD}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(fresh))}
        status, body = parse(raw_request(port, http("POST", "/v1/auth/signup", headers, fresh)))
        assert status == 201, body
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "RecursionError" not in log, log[-3000:]
    assert "UnicodeEncodeError" not in log, log[-3000:]

    # A Host outside ALLOWED_HOSTS: a 400 envelope, not Django's HTML page. (Django's security
    # logger records this one with its stack, so it comes after the traceback check above.)
    status, body = parse(raw_request(port, http("GET", "/v1/contributions", {}).replace(b"127.0.0.1", b"evil")))
    assert status == 400, body
    assert body["code"] == "validation_error", body

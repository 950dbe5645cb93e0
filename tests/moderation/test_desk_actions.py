"""The moderators' desk through Django's client: queue rows with the content, one-click decisions, bulk.

Every decision here must go through ``services.decide`` (ledger, audit, transparency leaf, live
events), so the checks read the same records the API test do, not only the page.
"""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from apps.core.audit import AuditRepository
from apps.core.db import run_sync
from apps.moderation.repository import ModerationRepository
from tests.moderation.conftest import ledger_count
from tests.moderation.test_admin_site import csrf_of, signed_in

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def report(user, content_id: str, reason: str = "harassment", content_type: str = "chat_message"):
    response = user.post("/v1/reports", {"content_type": content_type, "content_id": content_id, "reason": reason,
                                         "note": "mean"})  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def desk(make_user):
    """ana wrote two messages (one with markup), bob and cid reported them; mia moderates."""
    ana, bob, cid = make_user("ana"), make_user("bob"), make_user("cid")
    mod = make_user("mia", role="moderator")
    thread = ana.thread()
    bob.join(thread)
    cid.join(thread)
    rude = ana.send(thread, "rude words\nsecond line")
    markup = ana.send(thread, XSS)
    report(bob, rude["message_id"])
    report(cid, rude["message_id"], "spam")
    report(bob, markup["message_id"], "other")
    return {"ana": ana, "bob": bob, "mod": mod, "thread": thread, "rude": rude["message_id"],
            "markup": markup["message_id"], "client": signed_in(mod, csrf=True)}  # fmt: skip


def quick(
    client: Client, content_id: str, preset: str, request_id: str = "rq1", next_: str = "/admin/moderation/queue/"
):
    token = csrf_of(client, "/admin/moderation/queue/")
    form = {"csrfmiddlewaretoken": token, "preset": preset, "request_id": request_id, "next": next_}
    return client.post(f"/admin/moderation/items/{content_id}/quick/", form)


def test_queue_rows_show_the_content_author_reporters_and_age(desk):
    page = desk["client"].get("/admin/moderation/queue/").content.decode()
    row = page[page.index(f'data-content-id="{desk["rude"]}"') :]
    row = row[: row.index("</tr>")]
    assert "rude words\nsecond line" in row  # the text itself, line break kept (pre-line)
    assert "ana" in row  # the author
    assert "<strong>2</strong>" in row
    assert "harassment, spam" in row
    assert "by bob, cid" in row
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\d [\d:]+ UTC" title="[^"]+">(just now|\d+ min ago)</time>', row)
    link = re.search(r'class="gr-open">(.*?)</a>', row, re.S).group(1)
    assert desk["rude"] not in link  # the id is not the label
    for preset in ("approve", "hide", "remove", "warn"):
        assert f'name="preset" value="{preset}"' in row
    # Markup in content is shown as text, never as markup.
    assert XSS not in page
    assert html.escape(XSS, quote=False) in page or html.escape(XSS) in page
    assert 'id="shortcut-help"' in page
    assert "js/admin-queue.js" in page


def test_one_click_remove_goes_through_the_decision_service(desk):
    client, cid = desk["client"], desk["rude"]
    response = quick(client, cid, "remove", next_="/admin/moderation/queue/?kind=reported")
    assert response.status_code == 302, response.content
    assert response["Location"].startswith("/admin/moderation/queue/?kind=reported&done=removed")
    assert ledger_count() == 1
    state = desk["mod"].get(f"/v1/moderations/{cid}").json()["Moderator"]
    assert (state["moderation_status"], state["moderation_action"], state["reason_code"]) == (
        "rejected", "block", "community_guidelines")  # fmt: skip
    assert state["appeal_window_until_ms"] is not None
    assert state["decisions"][-1]["transparency"] is not None  # the leaf of the transparency log
    assert [a["action"] for a in run_sync(AuditRepository().for_target, f"content_moderation:{cid}")] == [
        "moderation.decide"
    ]
    assert all(r["resolved_by_decision_id"] for r in run_sync(ModerationRepository().reports_for, cid))
    seen = {m["message_id"]: m for m in desk["bob"].messages(desk["thread"])}[cid]
    assert seen["body"] == ""
    assert seen["moderation_status"] == "rejected"
    # A double click (same form, same button) is one decision; another button on that form is its own.
    assert quick(client, cid, "remove").status_code == 302
    assert ledger_count() == 1
    assert quick(client, cid, "approve").status_code == 302
    assert ledger_count() == 2
    assert desk["mod"].get(f"/v1/moderations/{cid}").json()["Moderator"]["moderation_status"] == "published"


@pytest.mark.parametrize(
    ("preset", "status", "action", "reason"),
    [
        ("approve", "published", "publish_now", "no_violation"),
        ("hide", "under_review", "hold_for_review", "held_for_review"),
        ("warn", "published", "publish_with_warning", "community_guidelines"),
    ],
)
def test_presets(desk, preset, status, action, reason):
    assert quick(desk["client"], desk["rude"], preset).status_code == 302
    state = desk["mod"].get(f"/v1/moderations/{desk['rude']}").json()["Moderator"]
    assert (state["moderation_status"], state["moderation_action"], state["reason_code"]) == (status, action, reason)
    if preset == "hide":
        assert state["hold_expires_at_ms"] - state["decided_at_ms"] == 24 * 60 * 60_000
        assert state["auto_release_if_no_action"] is False


def test_quick_refusals_write_nothing(desk, make_user):
    client, cid = desk["client"], desk["rude"]
    assert quick(client, cid, "delete_everything").status_code == 400
    assert quick(client, cid, "remove", request_id="bad id!").status_code == 400
    assert quick(client, "no_such_item_000", "remove").status_code == 404
    forged = client.post(f"/admin/moderation/items/{cid}/quick/", {"csrfmiddlewaretoken": "x" * 64,
                                                                   "preset": "remove", "request_id": "f1"})  # fmt: skip
    assert forged.status_code == 403
    assert b"CSRF" in forged.content
    assert b"reload the page" in forged.content
    member = Client()
    member.cookies["gr_session"] = desk["bob"].token
    assert member.post(f"/admin/moderation/items/{cid}/quick/", {"preset": "remove", "request_id": "m1"}
                       ).status_code == 403  # fmt: skip
    assert Client().post(f"/admin/moderation/items/{cid}/quick/", {"preset": "remove"}).status_code == 302  # login
    assert ledger_count() == 0
    # next is same-site admin only: anything else goes back to /admin/.
    assert quick(client, cid, "hide", next_="//evil.example/").headers["Location"].startswith("/admin/?done=")
    # The role rule refuses a moderator's Remove on an admin's profile: shown on the page, nothing written.
    root = make_user("root", role="admin")
    report(desk["bob"], root.user_id, "spam", content_type="user")
    refused = quick(client, root.user_id, "remove")
    assert refused.status_code == 302
    assert "error=Remove+was+not+recorded" in refused["Location"]
    assert ledger_count() == 1  # only the hide above
    page = client.get(refused["Location"]).content.decode()
    assert 'id="error-message"' in page
    assert "Remove was not recorded" in page


def test_bulk_action_decides_each_item_and_reports_each_result(desk):
    client = desk["client"]
    token = csrf_of(client, "/admin/moderation/queue/")
    form = {"csrfmiddlewaretoken": token, "request_id": "bulk1", "preset": "approve",
            "content_id": [desk["rude"], desk["markup"], "unknown_item_1", desk["rude"]]}  # fmt: skip
    response = client.post("/admin/moderation/queue/bulk/", form)
    assert response.status_code == 200
    page = response.content.decode()
    results = re.findall(r'<li class="(success|error)" data-content-id="([^"]+)">', page)
    assert results == [("success", desk["rude"]), ("success", desk["markup"]), ("error", "unknown_item_1")]
    assert "not decided: no such item" in page
    assert "2 of 3 item(s) approved" in page
    assert ledger_count() == 2
    assert all(r["resolved_by_decision_id"] for r in run_sync(ModerationRepository().reports_for, desk["rude"]))
    assert desk["rude"] not in page.split('id="result_list"')[1]  # dismissed: off the queue
    # The same POST again (reload, double click): no new decisions.
    assert client.post("/admin/moderation/queue/bulk/", form).status_code == 200
    assert ledger_count() == 2
    # Refusals: nothing selected, a preset that bulk does not offer, a malformed id.
    empty = client.post("/admin/moderation/queue/bulk/", form | {"content_id": [], "request_id": "bulk2"})
    assert empty.status_code == 400
    assert b"Select at least one item" in empty.content
    warn = client.post("/admin/moderation/queue/bulk/", form | {"preset": "warn", "request_id": "bulk3"})
    assert warn.status_code == 400
    bad = client.post("/admin/moderation/queue/bulk/", form | {"content_id": ["../x"], "request_id": "bulk4"})
    assert bad.status_code == 400
    assert ledger_count() == 2


def test_item_page_has_quick_buttons_and_advanced_defaults_that_agree(desk):
    client, cid = desk["client"], desk["rude"]
    page = client.get(f"/admin/moderation/items/{cid}/").content.decode()
    assert 'id="item-decide"' in page
    assert 'value="remove"' in page
    assert re.search(r'<details class="module gr-advanced" id="advanced">', page)  # closed by default
    assert "bob" in page.split('id="item-reports"')[1].split("</div>")[0]  # who reported
    assert re.search(r'<option value="published" selected>', page)
    assert re.search(r'<option value="publish_now" selected>', page)
    token = csrf_of(client, f"/admin/moderation/items/{cid}/")
    request_id = re.search(r'name="request_id" value="([^"]+)" id="id_request_id"', page).group(1)
    defaults = {"csrfmiddlewaretoken": token, "request_id": request_id, "moderation_status": "published",
                "moderation_action": "publish_now", "reason_code": "no_violation", "confidence": "1.0"}  # fmt: skip
    ok = client.post(f"/admin/moderation/items/{cid}/", defaults)
    assert ok.status_code == 302, ok.content
    assert ledger_count() == 1
    # A refused Advanced decision keeps what was typed and opens the details.
    refused = client.post(f"/admin/moderation/items/{cid}/", defaults | {"request_id": "adv2",
                          "moderation_status": "rejected", "reasoning": "kept <b>text</b>"})  # fmt: skip
    assert refused.status_code == 400
    body = refused.content.decode()
    assert '<details class="module gr-advanced" id="advanced" open>' in body
    assert "kept &lt;b&gt;text&lt;/b&gt;" in body
    assert ledger_count() == 1

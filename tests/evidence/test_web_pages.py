"""The contribution, profile and vouch pages through Django's test client (issue 11, point 4).

Signed-in members browse each other's contributions, vouch from a contribution or a profile (the vouch
service's rules, refusals in plain words beside the field), see friendly labels and local-time elements
instead of codes and ISO strings, the full hash and the witnesses. Bad input: over-long text, HTML in
every field (escaped), a repeated form (no duplicate).
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from apps.core.db import run_sync
from apps.evidence import services
from tests.evidence.conftest import PASSWORD, rfc3339

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _browser(user) -> Client:
    """A cookie session for ``user`` (the sign-in page), as a browser has."""
    client = Client()
    response = client.post("/signin", {"email": f"{user.username}@example.com", "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def _text(html: str) -> str:
    """What a reader sees: no tags, no attributes."""
    body = html.split("<main", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", body, flags=re.S)))


def _vouch(client: Client, path: str, **fields) -> object:
    data = {"weight_hint": "strong", "skill_id": "", "message": "", "form_token": str(uuid.uuid4())} | fields
    return client.post(path, data)


def test_header_links_and_favicon(ana):
    page = _browser(ana)
    html = page.get("/").content.decode()
    for link in ('href="/threads"', 'href="/contributions"', 'href="/members/ana"', 'href="/signout"'):
        assert link in html
    assert 'rel="icon"' in html
    assert "favicon.svg" in html
    assert 'src="/static/js/local-time.js"' in html
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in icon.content
    anonymous = Client().get("/").content.decode()
    assert 'href="/signin"' in anonymous
    assert 'href="/contributions"' not in anonymous
    mine = page.get("/contributions").content.decode()
    assert 'href="/contributions" aria-current="page"' in mine


def test_friendly_labels_local_times_hash_and_witnesses(ana, budi):
    contribution = ana.contribution(mode="catatan_saksi", skill_ids=["carpentry"])
    cid = contribution["contribution_id"]
    proof = {"timestamp": rfc3339(), "witnesses": [
        {"witness_name": "Pak Joko", "relationship": "beneficiary"},
        {"witness_name": "Ibu Sri", "relationship": "supervisor"}]}  # fmt: skip
    response = ana.post("/v1/evidence", {"contribution_id": cid, "evidence_type": "witness_attestation",
                                         "evidence_data": {"note": "line one\nline two"}, "proof": proof})  # fmt: skip
    assert response.status_code == 201, response.content

    for viewer in (ana, budi):  # the author and another member
        html = _browser(viewer).get(f"/contributions/{cid}").content.decode()
        text = _text(html)
        for raw in ("community_service", "catatan_saksi", "witness_attestation", "beneficiary", "supervisor"):
            assert raw not in text, raw
        assert "Community service" in text
        assert "Catatan saksi (witness record)" in text
        assert "Witness statement" in text
        assert "Pak Joko (Someone who was helped)" in text
        assert "Ibu Sri (Supervisor)" in text
        assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text), "raw ISO timestamp shown"
        assert re.search(r'<time datetime="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z" data-local-time="datetime">'
                         r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC</time>", html)  # fmt: skip
        assert "line one\nline two" in html  # kept, shown with pre-wrap


def test_full_hash_with_copy_button(ana, local_storage):
    from tests.evidence.test_web_thumbnails import upload_photo

    cid = ana.contribution()["contribution_id"]
    evidence, _data, sha256 = upload_photo(ana, cid)
    html = _browser(ana).get(f"/contributions/{cid}").content.decode()
    assert f'<code class="hash" id="hash-{evidence["evidence_id"]}"' in html
    assert f">{sha256}</code>" in html  # all 64 characters
    assert f'data-copy="#hash-{evidence["evidence_id"]}"' in html
    assert "JPEG photo" in html
    assert "/static/js/contributions.js" in html


def test_members_browse_each_others_contributions(ana, budi, make_user):
    ana.contribution(title="Cleaned the river bank")
    budi.contribution(title="Taught reading")
    as_budi = _browser(budi)

    mine = _text(as_budi.get("/contributions").content.decode())
    assert "Taught reading" in mine
    assert "Cleaned the river bank" not in mine
    filtered = as_budi.get("/contributions", {"member": "ANA"})  # usernames are case-insensitive
    assert filtered.status_code == 200
    text = _text(filtered.content.decode())
    assert "Contributions by ana" in text
    assert "Cleaned the river bank" in text
    assert "Taught reading" not in text
    everyone = _text(as_budi.get("/contributions", {"everyone": "1"}).content.decode())
    assert "Cleaned the river bank" in everyone
    assert "Taught reading" in everyone
    assert "by ana" in everyone

    unknown = as_budi.get("/contributions", {"member": "nobody-here"})
    assert unknown.status_code == 404
    assert "No member is called “nobody-here”" in unknown.content.decode()
    escaped = as_budi.get("/contributions", {"member": XSS})
    assert "<script>alert" not in escaped.content.decode()

    profile = as_budi.get("/members/ana")
    assert profile.status_code == 200
    assert "Cleaned the river bank" in _text(profile.content.decode())
    assert as_budi.get("/members/nobody-here").status_code == 404
    assert Client().get("/members/ana")["Location"].startswith("/signin")


def test_hidden_contributions_stay_hidden_from_other_members(ana, budi):
    from apps.core.db import get_db

    held = ana.contribution(title="Held for review")

    async def hold() -> None:  # what a moderator's "hide for review" leaves on the row
        await get_db().write(
            "UPDATE type::record('contribution', $id) SET moderation_status = 'under_review' RETURN NONE;",
            {"id": held["contribution_id"]},
            operation="test_hold",
        )

    run_sync(hold)
    as_budi = _browser(budi)
    for path, params in (("/contributions", {"member": "ana"}), ("/contributions", {"everyone": "1"}),
                         ("/members/ana", {})):  # fmt: skip
        assert "Held for review" not in as_budi.get(path, params).content.decode(), path
    assert as_budi.get(f"/contributions/{held['contribution_id']}").status_code == 404
    own = _browser(ana).get("/contributions").content.decode()
    assert "Held for review" in own
    assert "Hidden while a moderator reviews it" in own


def test_vouch_from_a_contribution_and_a_profile(ana, budi, make_user):
    cid = ana.contribution(skill_ids=["carpentry"])["contribution_id"]
    as_budi = _browser(budi)
    page = as_budi.get(f"/contributions/{cid}").content.decode()
    assert "Vouch for ana" in page
    assert 'name="weight_hint"' in page
    assert '<option value="carpentry">' in page  # the contribution's skills are suggested

    token = str(uuid.uuid4())
    first = _vouch(as_budi, f"/contributions/{cid}", skill_id="carpentry", message=f"Solid work {XSS}",
                   form_token=token)  # fmt: skip
    assert first.status_code == 302
    assert first["Location"] == f"/contributions/{cid}?vouched=1#vouch"
    assert "Your vouch for ana is recorded" in as_budi.get(first["Location"]).content.decode()
    # The same form sent again (double click, resend): the first vouch, no duplicate, no error.
    again = _vouch(as_budi, f"/contributions/{cid}", skill_id="carpentry", form_token=token)
    assert again.status_code == 302
    assert len(run_sync(services.repo.list_vouches, "vouchee_id", ana.user_id, 10)) == 1

    # A new form for the same skill: 409 in words beside the skill field, input kept.
    duplicate = _vouch(as_budi, f"/contributions/{cid}", skill_id="carpentry", message="once more")
    assert duplicate.status_code == 400
    html = duplicate.content.decode()
    assert re.search(r'id="vouch-skill-error">You have already vouched for ana for “carpentry”', html)
    assert ">once more</textarea>" in html

    # From the profile, for another skill, with a light weight.
    second = _vouch(as_budi, "/members/ana", weight_hint="light", skill_id="welding")
    assert second.status_code == 302
    assert second["Location"] == "/members/ana?vouched=1#vouch"
    profile = _browser(ana).get("/members/ana").content.decode()
    text = _text(profile)
    assert "budi Strong for carpentry" in text
    assert "budi Light for welding" in text
    assert "<script>alert" not in profile
    assert "&lt;script&gt;alert" in profile
    assert "Vouch for ana" not in profile  # no vouch form on your own profile
    given = _text(as_budi.get("/members/budi").content.decode())
    assert "for ana Strong for carpentry" in given


@pytest.mark.parametrize(
    ("fields", "slot", "words"),
    [
        ({"message": "x" * 501}, "vouch-message-error", "Keep the message to 500 characters (it has 501)."),
        ({"skill_id": "s" * 101}, "vouch-skill-error", "Keep the skill to 100 characters (it has 101)."),
        (
            {"weight_hint": "enormous"},
            "vouch-weight-error",
            "Choose how strongly you vouch: Strong, Moderate or Light.",
        ),
        ({"message": "nul\x00byte"}, "vouch-message-error", "This contains a character that cannot be stored."),
    ],
)
def test_vouch_refusals_in_plain_words(ana, budi, fields, slot, words):
    response = _vouch(_browser(budi), "/members/ana", **fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="{slot}">{words}</span>' in html
    assert "validation failed" not in html
    assert "weight_hint" not in _text(html)
    assert run_sync(services.repo.list_vouches, "vouchee_id", ana.user_id, 10) == []


def test_self_vouch_is_refused_in_words(ana):
    response = _vouch(_browser(ana), "/members/ana")
    assert response.status_code == 400
    assert "You cannot vouch for yourself." in response.content.decode()


def test_new_contribution_errors_in_words_and_no_duplicate(ana):
    page = _browser(ana)
    empty = page.post("/contributions/new", {"title": "  ", "contribution_type": "community_service",
                                             "form_token": str(uuid.uuid4())})  # fmt: skip
    assert empty.status_code == 400
    assert 'id="id_title_error">Give your contribution a title.</span>' in empty.content.decode()
    long = page.post("/contributions/new", {"title": "t" * 201, "contribution_type": "community_service",
                                            "description": XSS, "form_token": str(uuid.uuid4())})  # fmt: skip
    html = long.content.decode()
    assert "Keep the title to 200 characters (it has 201)." in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html

    token = str(uuid.uuid4())
    body = {"title": f"Fixed {XSS}", "contribution_type": "mentoring", "mode": "siaga", "form_token": token}
    first, second = page.post("/contributions/new", body), page.post("/contributions/new", body)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]  # the double submit replayed the first
    assert len(run_sync(services.repo.list_contributions, ana.user_id, 10, None)) == 1
    detail = page.get(first["Location"]).content.decode()
    assert "Mentoring" in detail
    assert "Siaga (emergency)" in detail
    assert "<script>alert" not in detail


def test_sign_in_returns_to_the_page_that_asked_for_it(ana):
    cid = ana.contribution()["contribution_id"]
    visitor = Client()
    asked = visitor.get(f"/contributions/{cid}")
    assert asked.status_code == 302
    assert asked["Location"] == f"/signin?next=%2Fcontributions%2F{cid}"
    form = visitor.get(asked["Location"]).content.decode()
    assert f'name="next" value="/contributions/{cid}"' in form
    signed_in = visitor.post("/signin", {"email": "ana@example.com", "password": PASSWORD,
                                         "next": f"/contributions/{cid}"})  # fmt: skip
    assert signed_in["Location"] == f"/contributions/{cid}"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = Client().post("/signin", {"email": "ana@example.com", "password": PASSWORD, "next": elsewhere})
        assert response["Location"] == "/threads", elsewhere

"""Fill an empty database with a small living community, through the same services the API uses.

Nothing here writes SurrealQL: users sign up, threads are created and messages sent, contributions,
evidence and vouches are recorded exactly as a person would through the API, so the demo data obeys
every rule (and writes its outbox events). Seeding twice changes nothing: the admin's email marks a
seeded database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apps.accounts import services as accounts
from apps.accounts import staff
from apps.accounts.domain import Principal
from apps.accounts.repository import AccountsRepository
from apps.chat import services as chat
from apps.core import context
from apps.core.audit import AuditRepository
from apps.core.db import UnitOfWork
from apps.core.ids import new_request_id, now_ms
from apps.evidence import services as evidence
from apps.evidence import services_evidence

DOMAIN = "demo.gotong.local"
ADMIN_EMAIL = f"admin@{DOMAIN}"
SEED_IP = "127.0.0.1"


@dataclass
class DemoAccount:
    username: str
    email: str
    password: str
    role: str


@dataclass
class SeedResult:
    created: bool
    accounts: list[DemoAccount] = field(default_factory=list)
    threads: int = 0
    messages: int = 0
    contributions: int = 0
    evidence: int = 0
    vouches: int = 0
    reports: int = 0
    held: int = 0
    appeals: int = 0


def _new_request() -> None:
    context.set_context(context.RequestContext(request_id=new_request_id(), correlation_id="seed-demo"))


async def _member(username: str, role: str = "user") -> tuple[DemoAccount, Principal]:
    account = DemoAccount(username, f"{username}@{DOMAIN}", secrets.token_urlsafe(9), role)
    _new_request()
    issued = await accounts.signup(
        accounts.SignupInput(email=account.email, username=username, password=account.password), ip=SEED_IP
    )
    if role != "user":
        uow = UnitOfWork()
        uow.add(AccountsRepository().update_user_statement(issued.user_id, {"role": role, "updated_at_ms": now_ms()}))
        uow.add(
            AuditRepository().statement(
                actor_id="system:seed_demo",
                action="user.set_role",
                target=f"user:{issued.user_id}",
                before={"role": "user"},
                after={"role": role},
            )
        )
        await uow.commit(operation="seed_demo_role")
    return account, await accounts.authenticate(issued.access_token, via="bearer")


@dataclass(frozen=True)
class _Cast:
    """The seeded people as the services see them (principals), shared by the seeding steps."""

    moderator: Principal
    ana: Principal
    budi: Principal
    citra: Principal


async def seed() -> SeedResult:
    """Seed once, in steps that each act as people would through the API (order matters: later steps use
    the threads, contributions and people of earlier ones)."""
    if await staff.user_exists(ADMIN_EMAIL):
        return SeedResult(created=False)
    result = SeedResult(created=True)
    cast = await _people(result)
    square_id = await _chat(result, cast)
    drain_id = await _contributions(result, cast)
    await _evidence(result, cast, drain_id)
    await _vouches(result, cast)
    await _moderation_work(result, square_id, cast.moderator, cast.ana, cast.budi, cast.citra)
    return result


async def _people(result: SeedResult) -> _Cast:
    """The admin (through ``staff.ensure_admin``), a moderator and three neighbours."""
    admin_password = secrets.token_urlsafe(12)
    _new_request()
    await staff.ensure_admin(email=ADMIN_EMAIL, username="admin", password=admin_password, actor_id="system:seed_demo")
    result.accounts.append(DemoAccount("admin", ADMIN_EMAIL, admin_password, "admin"))

    moderator, moderator_principal = await _member("moderator", "moderator")
    ana_account, ana = await _member("ana")
    budi_account, budi = await _member("budi")
    citra_account, citra = await _member("citra")
    result.accounts += [moderator, ana_account, budi_account, citra_account]
    return _Cast(moderator_principal, ana, budi, citra)


async def _chat(result: SeedResult, cast: _Cast) -> str:
    """A public neighbourhood thread and a private committee thread with a conversation; the public one's id."""
    ana, budi, citra = cast.ana, cast.budi, cast.citra
    _new_request()
    square = await chat.create_thread(ana, scope_id="rt-05", privacy_level="public", title="RT 05 — kerja bakti")
    committee = await chat.create_thread(budi, scope_id="rt-05", privacy_level="private", title="Panitia")
    result.threads = 2
    for person in (budi, citra):
        _new_request()
        await chat.join(person, square["thread_id"])
    _new_request()
    await chat.add_member(budi, committee["thread_id"], user_id=ana.user_id, role="member")
    conversation = [
        (ana, square, "Selamat pagi! Saturday 07:00 we clean the drainage along Jalan Melati."),
        (budi, square, "I will bring two hoes and the wheelbarrow."),
        (citra, square, "Count me in. Who brings water for everyone?"),
        (ana, square, "I can bring a 19-litre gallon and cups."),
        (budi, square, "Great. Photos before/after for the record, please."),
        (budi, committee, "Budget: Rp 150.000 for trash bags and gloves."),
        (ana, committee, "Agreed. I will buy them on Friday."),
    ]
    for author, thread, body in conversation:
        _new_request()
        await chat.send_message(author, thread["thread_id"], body=body, attachments=[])
        result.messages += 1
    return square["thread_id"]


async def _contributions(result: SeedResult, cast: _Cast) -> str:
    """Two contributions; the id of the drainage one, which gets the evidence."""
    _new_request()
    drain = await evidence.create_contribution(
        cast.ana,
        {
            "title": "Cleared 120 m of drainage on Jalan Melati",
            "contribution_type": "community_service",
            "description": "Removed silt and plastic waste with six neighbours.",
            "skill_ids": ["gotong-royong", "sanitation"],
        },
    )
    await evidence.create_contribution(
        cast.budi,
        {"title": "Taught the youth group basic bookkeeping", "contribution_type": "mentoring"},
    )
    result.contributions = 2
    return drain["contribution_id"]


async def _evidence(result: SeedResult, cast: _Cast, contribution_id: str) -> None:
    """Proof-of-Reality evidence from yesterday: a GPS check and two witnesses."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    _new_request()
    await services_evidence.create_evidence(
        cast.ana,
        {
            "contribution_id": contribution_id,
            "evidence_type": "gps_verification",
            "evidence_data": {"note": "start of the cleared stretch"},
            "proof": {"timestamp": yesterday, "location": {"lat": -6.2001, "lon": 106.8166, "accuracy_m": 8}},
        },
    )
    _new_request()
    await services_evidence.create_evidence(
        cast.ana,
        {
            "contribution_id": contribution_id,
            "evidence_type": "witness_attestation",
            "evidence_data": {},
            "proof": {
                "timestamp": yesterday,
                "witnesses": [
                    {"witness_name": "Pak RT Slamet", "relationship": "supervisor"},
                    {"witness_name": "Citra", "relationship": "peer"},
                ],
            },
        },
    )
    result.evidence = 2


async def _vouches(result: SeedResult, cast: _Cast) -> None:
    ana, budi, citra = cast.ana, cast.budi, cast.citra
    for voucher, vouchee, skill in ((budi, ana, "sanitation"), (citra, ana, "gotong-royong"), (ana, budi, None)):
        _new_request()
        await evidence.create_vouch(
            voucher,
            {"vouchee_id": vouchee.user_id, "skill_id": skill, "weight_hint": "strong", "message": "Terima kasih!"},
        )
        result.vouches += 1


async def _moderation_work(
    result: SeedResult, thread_id: str, moderator: Principal, ana: Principal, budi: Principal, citra: Principal
) -> None:
    """Something for the moderator to act on in the review queue: a held message, a reported one and
    an appealed removal, each made through the moderation services as the API would."""
    from apps.moderation import reports
    from apps.moderation import services as moderation

    async def say(author: Principal, body: str) -> str:
        _new_request()
        message = await chat.send_message(author, thread_id, body=body, attachments=[])
        result.messages += 1
        return message["message_id"]

    spam = await say(citra, "Jual pulsa murah!!! Cheap phone credit, DM me now, limited offer")
    _new_request()
    await moderation.decide(moderation.Actor.of(moderator), {
        "content_id": spam, "content_type": "chat_message", "moderation_status": "under_review",
        "moderation_action": "hold_for_review", "reason_code": "possible_spam", "confidence": 0.7,
        "hold_duration_minutes": 24 * 60, "reasoning": "Looks like an advert; check with the RT first.",
    })  # fmt: skip
    result.held += 1

    rude = await say(budi, "Whoever keeps parking on the drain cover is an idiot.")
    _new_request()
    await reports.report(ana, {"content_type": "chat_message", "content_id": rude, "reason": "harassment",
                                  "note": "Name-calling in the neighbourhood thread."})  # fmt: skip
    result.reports += 1

    link = await say(citra, "Sign-up form for Saturday: http://bit.ly/rt05-kerja-bakti")
    _new_request()
    await moderation.decide(moderation.Actor.of(moderator), {
        "content_id": link, "content_type": "chat_message", "moderation_status": "rejected",
        "moderation_action": "block", "reason_code": "suspicious_link", "confidence": 0.6,
    })  # fmt: skip
    _new_request()
    await moderation.appeal(citra, link, {"statement": "It is the real form of the RT, Pak Slamet made it."})
    result.appeals += 1

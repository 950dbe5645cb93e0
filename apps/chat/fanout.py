"""A committed message rendered once for all local streams, per visibility variant (not per socket).

A message view varies by reader in one way only: whether the reader sees a held or rejected body
(``presenters.sees_held_body``: its author and staff do). So the hub loads a row's author and
attachments once (``load_for_views``) and each stream asks for its envelope here: the first
stream of a variant builds the view and the envelope, the others get the same object, whose JSON is
also encoded once (``presenters.Envelope.text``). Before this, every socket ran ``views_of`` (one users
query per socket per message) and its own ``json.dumps``.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.domain import Principal
from apps.chat import presenters
from apps.chat.attachments import with_attachments
from apps.chat.repository import ChatRepository


class PreparedMessage:
    __slots__ = ("_envelopes", "row", "users")

    def __init__(self, row: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
        self.row = row  # with its attachment rows (``attachments.with_attachments``)
        self.users = users
        self._envelopes: dict[tuple[str, bool], presenters.Envelope] = {}

    @property
    def seq(self) -> int:
        return self.row["seq"]

    def envelope_for(self, event_type: str, viewer: Principal) -> presenters.Envelope:
        """The envelope of ``event_type`` about this message as ``viewer`` may see it (shared, never mutate)."""
        key = (event_type, presenters.sees_held_body(self.row, viewer))
        found = self._envelopes.get(key)
        if found is None:
            view = presenters.message_view(self.row, self.users, viewer)
            found = self._envelopes[key] = presenters.envelope(
                event_type, self.row["thread_id"], seq=self.row["seq"], message=view
            )
        return found


async def load_for_views(
    rows: list[dict[str, Any]], known_authors: dict[str, dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The rows with their attachment rows, and their authors: what ``message_view`` needs (two queries at most).

    ``known_authors`` are ``{user_id, username, role}`` briefs the caller already holds (a send's event carries
    its author's, taken from the signed-in principal as the sender's own answer is): only the others are read.
    """
    known = known_authors or {}
    missing = [r["author_id"] for r in rows if r["author_id"] not in known]
    users = await ChatRepository().users(missing) if missing else {}
    authors = {r["author_id"]: known[r["author_id"]] for r in rows if r["author_id"] in known} | users
    return await with_attachments(rows), authors


async def prepare(
    rows: list[dict[str, Any]], known_authors: dict[str, dict[str, Any]] | None = None
) -> list[PreparedMessage]:
    """Rows ready for every stream: authors and attachments loaded once for all of them."""
    loaded, users = await load_for_views(rows, known_authors)
    return [PreparedMessage(row, users) for row in loaded]

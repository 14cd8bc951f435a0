"""aura_feature_example — an outside Aura feature: notes in the account journal.

Everything a feature provides is in :func:`notes_feature`: one fact type
(``notes.note``, device-signed, only in the account's own journal), one
reducer (the notes in a stable order), a workflow (``notes.add``, category A:
a CRDT fact, immediate), a query (``notes.list``), a signal (``notes``) and a
``start`` hook that counts the notes the agent loaded from disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import attrs

from aura_agent import Feature, FeatureHost, JournalReader, SignalSpec
from aura_core.errors import InvalidEncoding, InvalidInput, NotFound, ValidationError
from aura_journal import (
    COMMITMENT_TREE,
    DeviceAttestation,
    Fact,
    FactType,
    Journal,
    JournalNamespace,
)

if TYPE_CHECKING:
    from aura_agent import Agent

__all__ = ["MAX_NOTE_CHARS", "NOTE_TYPE_ID", "Note", "NotesReducer", "notes_feature"]

NOTE_TYPE_ID = "notes.note"
MAX_NOTE_CHARS = 2000


@attrs.frozen
class Note:
    """The body of a ``notes.note`` fact."""

    TYPE_ID: ClassVar[str] = NOTE_TYPE_ID
    text: str

    def __attrs_post_init__(self) -> None:
        if type(self.text) is not str or not 0 < len(self.text) <= MAX_NOTE_CHARS:
            raise InvalidInput(f"a note is 1..{MAX_NOTE_CHARS} characters of text")

    def to_canonical(self) -> dict[str, Any]:
        return {"text": self.text}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        if not isinstance(value, dict) or set(value) != {"text"}:
            raise InvalidEncoding("a note is a map with one field, text")
        try:
            return cls(value["text"])
        except InvalidInput as exc:
            raise InvalidEncoding(f"note: {exc.message}") from None


def _admit(journal: Journal, fact: Fact, _body: Note) -> None:
    """Only a current device of the account may write its notes."""
    head = journal.state(COMMITMENT_TREE).head
    attestation = fact.attestation
    if head is None or not isinstance(attestation, DeviceAttestation):
        raise ValidationError("a note needs the account's tree and a device signature")
    leaf = head.leaf_for_key(attestation.public_key)
    if leaf is None or leaf.device != attestation.device:
        raise ValidationError("the note is not signed by a device of this account")


class NotesReducer:
    """The notes sorted by the facts' deterministic order (a set, so any arrival order works)."""

    name = "notes"
    fact_types = frozenset({NOTE_TYPE_ID})

    def initial(self) -> dict[tuple[bytes, bytes], str]:
        return {}

    def apply(self, state: dict[tuple[bytes, bytes], str], fact: Fact, body: Note) -> dict:
        state[fact.sort_key] = body.text
        return state


def _notes(reader: JournalReader) -> tuple[str, ...]:
    authority = reader.authority
    if authority is None:
        return ()
    namespace = JournalNamespace.authority(authority)
    if namespace not in reader.namespaces:
        return ()
    state = reader.journal(namespace).state(NotesReducer.name)
    return tuple(text for _key, text in sorted(state.items()))


def _add(host: FeatureHost, args: Mapping[str, Any]) -> int:
    authority = host.reader.authority
    if authority is None:
        raise NotFound("create an account before writing notes")
    namespace = JournalNamespace.authority(authority)
    note = Note(args.get("text"))  # type: ignore[arg-type]
    fact = host.sign_as_device(Fact.create(note, host.metadata()), namespace)
    host.add_facts(namespace, [fact])
    return len(_notes(host.reader))


def _list(reader: JournalReader, _args: Mapping[str, Any]) -> tuple[str, ...]:
    return _notes(reader)


async def _start(agent: Agent) -> None:
    """Runs for the agent's lifetime: report how many notes survived the last restart."""
    agent.effects.reactive.emit("notes.loaded", len(agent.query("notes.list")))


def notes_feature() -> Feature:
    """The entry point ``aura.features: notes`` (a factory, so loading stays cheap)."""
    return Feature(
        name="notes",
        fact_types=(
            FactType.for_body(
                Note,
                attestations=frozenset({"device"}),
                namespaces=frozenset({"authority"}),
                admit=_admit,
            ),
        ),
        reducers=(NotesReducer(),),
        operation_categories={"notes.add": "A"},
        workflows={"notes.add": _add},
        queries={"notes.list": _list},
        signals=(SignalSpec("notes", _notes, {NOTE_TYPE_ID}),),
        start=_start,
        requires=("account",),
        description="Private notes in the account journal, signed by the device that wrote them.",
    )

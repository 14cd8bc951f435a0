"""The profile feature: a nickname an account shows to the peers that replicate its journal.

A nickname is a category-A operation (MECHANICS: "A: CRDT, immediate
(chat message, nickname)"): a ``profile.nickname`` fact in the account's own
journal, signed by one of its devices. The journal admits it only if the
signing key is a current device leaf of the account's commitment tree, so a
replica (a contact holding a copy of the journal) can check it without asking
anyone; until the tree's genesis has arrived the fact waits
(``MissingDependency``), which anti-entropy retries. The newest nickname by
version wins on every replica: each new nickname carries one more than the
highest version its writer had seen (a Lamport counter per account), with the
content id breaking a tie between two devices writing concurrently.
``OrderTime`` tokens are random, so they cannot say which came later.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import attrs

from aura_agent.feature import Feature, FeatureHost, JournalReader, SignalSpec
from aura_core.errors import InvalidEncoding, InvalidInput, NotFound, ValidationError
from aura_core.identifiers import AuthorityId
from aura_journal import (
    COMMITMENT_TREE,
    DeviceAttestation,
    Fact,
    FactType,
    Journal,
    JournalNamespace,
    LeafRole,
    MissingDependency,
)

__all__ = [
    "MAX_NICKNAME_CHARS",
    "NICKNAME_TYPE_ID",
    "PROFILE_REDUCER",
    "ProfileNickname",
    "ProfileReducer",
    "profile_feature",
]

NICKNAME_TYPE_ID = "profile.nickname"
PROFILE_REDUCER = "profile"
MAX_NICKNAME_CHARS = 64


def check_nickname(value: object) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_NICKNAME_CHARS:
        raise InvalidInput(f"a nickname is 1..{MAX_NICKNAME_CHARS} characters")
    if value != value.strip() or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput("a nickname has no control characters and no surrounding spaces")
    return value


@attrs.frozen
class ProfileNickname:
    """The body of a ``profile.nickname`` fact."""

    TYPE_ID: ClassVar[str] = NICKNAME_TYPE_ID
    authority: AuthorityId
    nickname: str = attrs.field(validator=lambda _i, _a, v: check_nickname(v))
    version: int = attrs.field(default=1)

    @version.validator
    def _check_version(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 1 <= value < 2**63:
            raise InvalidInput("a nickname version is a positive integer")

    def to_canonical(self) -> dict[str, Any]:
        return {"authority": self.authority.raw, "nickname": self.nickname, "version": self.version}

    @classmethod
    def from_canonical(cls, value: Any) -> Self:
        if not isinstance(value, dict) or set(value) != {"authority", "nickname", "version"}:
            raise InvalidEncoding("a profile nickname is a map of authority, nickname, version")
        raw = value["authority"]
        if type(raw) is not bytes or len(raw) != 16:
            raise InvalidEncoding("profile nickname authority must be 16 bytes")
        try:
            return cls(AuthorityId(raw), value["nickname"], value["version"])
        except InvalidInput as exc:
            raise InvalidEncoding(f"profile nickname: {exc.message}") from None


def _validate(_fact: Fact, body: ProfileNickname, namespace: JournalNamespace) -> None:
    if namespace.owner != body.authority:
        raise ValidationError("a nickname belongs in the journal of the authority it names")


def _admit(journal: Journal, fact: Fact, _body: ProfileNickname) -> None:
    head = journal.state(COMMITMENT_TREE).head
    if head is None:
        raise MissingDependency("the account's tree is not known here yet")
    attestation = fact.attestation
    assert isinstance(
        attestation, DeviceAttestation
    )  # the fact type admits only device attestations
    leaf = head.leaf_for_key(attestation.public_key)
    if leaf is None or leaf.role is not LeafRole.DEVICE or leaf.device != attestation.device:
        raise ValidationError("the nickname is not signed by a current device of the account")


class ProfileReducer:
    """Highest (version, content id) wins: a commutative, order-independent max."""

    name = PROFILE_REDUCER
    fact_types = frozenset({NICKNAME_TYPE_ID})

    def initial(self) -> tuple[tuple[int, bytes], str] | None:
        return None

    def apply(
        self, state: tuple[tuple[int, bytes], str] | None, fact: Fact, body: Any
    ) -> tuple[tuple[int, bytes], str] | None:
        candidate = ((body.version, fact.cid.raw), body.nickname)
        return candidate if state is None or candidate[0] > state[0] else state


def _nickname_of(reader: JournalReader, authority: AuthorityId) -> str | None:
    namespace = JournalNamespace.authority(authority)
    if namespace not in reader.namespaces:
        return None
    state = reader.journal(namespace).state(PROFILE_REDUCER)
    return None if state is None else state[1]


def _set_nickname(host: FeatureHost, args: Mapping[str, Any]) -> str:
    nickname = check_nickname(args.get("nickname"))
    authority = host.reader.authority
    if authority is None:
        raise NotFound("create an account before setting a nickname")
    namespace = JournalNamespace.authority(authority)
    current = host.reader.journal(namespace).state(PROFILE_REDUCER)
    version = 1 if current is None else current[0][0] + 1
    fact = host.sign_as_device(
        Fact.create(ProfileNickname(authority, nickname, version), host.metadata()), namespace
    )
    host.add_facts(namespace, [fact])
    return nickname


def _nickname_query(reader: JournalReader, args: Mapping[str, Any]) -> str | None:
    raw = args.get("authority")
    if raw is None:
        authority = reader.authority
        if authority is None:
            return None
    else:
        authority = raw if isinstance(raw, AuthorityId) else AuthorityId.parse(raw)
    return _nickname_of(reader, authority)


def _own_nickname(reader: JournalReader) -> str | None:
    authority = reader.authority
    return None if authority is None else _nickname_of(reader, authority)


def profile_feature() -> Feature:
    return Feature(
        name="profile",
        fact_types=(
            FactType.for_body(
                ProfileNickname,
                attestations=frozenset({"device"}),
                namespaces=frozenset({"authority"}),
                validate=_validate,
                admit=_admit,
            ),
        ),
        reducers=(ProfileReducer(),),
        operation_categories={"profile.set_nickname": "A"},
        workflows={"profile.set_nickname": _set_nickname},
        queries={"profile.nickname": _nickname_query},
        signals=(SignalSpec("profile.nickname", _own_nickname, {NICKNAME_TYPE_ID}),),
        requires=("account",),
        description="A nickname per account, signed by a device of the account.",
    )

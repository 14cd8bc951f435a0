"""Invitation codes: ``aura:v1:`` + base64url (no padding) of a signed, canonical invite.

An invite says: *authority A (key K) invites you to a contact / guardian /
device relationship; here is A's half of the new context's seed, a nonce, an
expiry, optionally a nickname and a message, and optionally where to send
the answer* (a sealing key, a mailbox tag and relays). The whole invite is
DAG-CBOR and signed with K under the domain ``AURA_INVITATION_V1``; the code
is the canonical encoding of the invite plus the signature.

**How the key is tied to the authority.** ``K`` is the inviter authority's
own key: for a 1-of-1 authority its Ed25519 key, for a threshold authority
its group key (a FROST signature is an Ed25519 signature). The code itself is
the introduction, trust on first use through the channel it travelled (a QR
code shown in person, a message from someone you know): the receiver learns
"A is the authority that signs with K". From then on the binding is enforced:
the acceptance in the new context pins K as A's key there, and every later
fact A writes in that context must verify under K.

Decoding is strict and every refusal names the problem: wrong prefix or
version, characters outside base64url, padding, non-canonical base64 or CBOR,
truncation, unknown or missing fields, and (as :class:`InvitationForged`) a
signature that does not verify.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from typing import Any, ClassVar

import attrs
import nacl.bindings

from aura_core import dag_cbor
from aura_core.canonical_fields import (
    U64_MAX,
    as_encoding_error,
    read_authority,
    read_bytes,
    read_choice,
    read_list,
    read_map,
    read_text,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.hashing import tagged_hash
from aura_core.identifiers import AuthorityId, Hash32
from aura_features.ed25519_signer import Ed25519Signer, ed25519_valid
from aura_features.invitation.invitation_errors import InvalidInvitationCode, InvitationForged
from aura_features.rendezvous.mailbox import MailboxTag
from aura_features.rendezvous.relay_hint import RelayHint

__all__ = [
    "CODE_PREFIX",
    "INVITATION_SIGNING_DOMAIN",
    "INVITATION_VERSION",
    "MAX_CODE_CHARS",
    "MAX_INVITE_MESSAGE_CHARS",
    "MAX_NICKNAME_CHARS",
    "MAX_REPLY_RELAYS",
    "InvitationId",
    "Invite",
    "InviteKind",
    "ReplyPath",
    "SignedInvite",
    "sign_invite",
]

INVITATION_VERSION = 1
CODE_PREFIX = "aura:v1:"
INVITATION_SIGNING_DOMAIN = "AURA_INVITATION_V1"
_ID_DOMAIN = "AURA_INVITATION_ID_V1"
MAX_CODE_CHARS = 4096
MAX_NICKNAME_CHARS = 64
MAX_INVITE_MESSAGE_CHARS = 280
MAX_REPLY_RELAYS = 4
SEED_BYTES = 32
NONCE_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_REQUIRED = ("v", "kind", "from", "key", "seed", "nonce", "exp")
_OPTIONAL = ("nick", "msg", "reply")


class InviteKind(enum.StrEnum):
    """What accepting creates: a contact, a guardian relationship, or a new device of the inviter."""

    CONTACT = "contact"
    GUARDIAN = "guardian"
    DEVICE = "device"


class InvitationId(Hash32):
    """Content id of an invite (its signed body): what cancels, answers and redemptions name."""

    prefix: ClassVar[str] = "invitation"


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be 32 bytes")


def _ed25519(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if (
        type(value) is not bytes
        or len(value) != 32
        or not nacl.bindings.crypto_core_ed25519_is_valid_point(value)
    ):
        raise InvalidInput(f"{attribute.name} must be a valid 32-byte Ed25519 public key")


def _sized(size: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not bytes or len(value) != size:
            raise InvalidInput(f"{attribute.name} must be {size} bytes")

    return check


def _optional_text(limit: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:
        if value is None:
            return
        if type(value) is not str or not 1 <= len(value) <= limit:
            raise InvalidInput(f"{attribute.name} must be None or 1..{limit} characters")
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
            raise InvalidInput(f"{attribute.name} contains control characters")

    return check


def _relays(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not 1 <= len(value) <= MAX_REPLY_RELAYS:
        raise InvalidInput(f"a reply path names a tuple of 1..{MAX_REPLY_RELAYS} relays")
    if not all(isinstance(relay, RelayHint) for relay in value):
        raise InvalidInput("reply relays must be RelayHint values")


@attrs.frozen
class ReplyPath:
    """Where the invitee sends its answer: seal to ``seal_key``, deposit for ``mailbox`` at a relay."""

    seal_key: bytes = attrs.field(validator=_key32, repr=False)
    mailbox: MailboxTag = attrs.field(validator=attrs.validators.instance_of(MailboxTag))
    relays: tuple[RelayHint, ...] = attrs.field(validator=_relays)

    def to_canonical(self) -> dict[str, Any]:
        return {
            "seal": self.seal_key,
            "box": self.mailbox.raw,
            "relays": [relay.to_canonical() for relay in self.relays],
        }

    @classmethod
    def from_canonical(cls, value: Any) -> ReplyPath:
        fields = read_map(value, "invitation reply path", ("seal", "box", "relays"))
        relays = tuple(
            RelayHint.from_canonical(item)
            for item in read_list(
                fields["relays"], "reply relays", min_items=1, max_items=MAX_REPLY_RELAYS
            )
        )
        try:
            return cls(
                read_bytes(fields["seal"], "reply sealing key", size=32),
                MailboxTag(read_bytes(fields["box"], "reply mailbox", size=32)),
                relays,
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("invitation reply path", exc) from None


@attrs.frozen
class Invite:
    """The signed content of an invitation."""

    kind: InviteKind = attrs.field(converter=InviteKind)
    inviter: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    inviter_key: bytes = attrs.field(validator=_ed25519, repr=lambda k: k.hex()[:16] + "…")
    context_seed: bytes = attrs.field(validator=_sized(SEED_BYTES), repr=False)
    nonce: bytes = attrs.field(validator=_sized(NONCE_BYTES), repr=lambda n: n.hex())
    expires_ms: int = attrs.field()
    nickname: str | None = attrs.field(default=None, validator=_optional_text(MAX_NICKNAME_CHARS))
    message: str | None = attrs.field(
        default=None, validator=_optional_text(MAX_INVITE_MESSAGE_CHARS)
    )
    reply: ReplyPath | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(ReplyPath))
    )

    @expires_ms.validator
    def _check_expiry(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 0 < value <= U64_MAX:
            raise InvalidInput("expires_ms must be a positive u64 (ms since the Unix epoch)")

    def to_canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "v": INVITATION_VERSION,
            "kind": self.kind.value,
            "from": self.inviter.raw,
            "key": self.inviter_key,
            "seed": self.context_seed,
            "nonce": self.nonce,
            "exp": self.expires_ms,
        }
        if self.nickname is not None:
            value["nick"] = self.nickname
        if self.message is not None:
            value["msg"] = self.message
        if self.reply is not None:
            value["reply"] = self.reply.to_canonical()
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> Invite:
        fields = read_map(value, "invitation", _REQUIRED, _OPTIONAL)
        version = read_uint(fields["v"], "invitation version")
        if version != INVITATION_VERSION:
            raise InvalidEncoding(
                f"invitation version {version} is not supported (this software reads "
                f"{INVITATION_VERSION})"
            )
        nickname = fields.get("nick")
        message = fields.get("msg")
        reply = fields.get("reply")
        try:
            return cls(
                read_choice(fields["kind"], "invitation kind", [k.value for k in InviteKind]),
                read_authority(fields["from"], "inviter"),
                read_bytes(fields["key"], "inviter key", size=32),
                read_bytes(fields["seed"], "context seed", size=SEED_BYTES),
                read_bytes(fields["nonce"], "invitation nonce", size=NONCE_BYTES),
                read_uint(fields["exp"], "invitation expiry", minimum=1),
                None
                if nickname is None
                else read_text(
                    nickname, "inviter nickname", max_length=MAX_NICKNAME_CHARS, min_length=1
                ),
                None
                if message is None
                else read_text(
                    message, "invitation message", max_length=MAX_INVITE_MESSAGE_CHARS, min_length=1
                ),
                None if reply is None else ReplyPath.from_canonical(reply),
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise as_encoding_error("invitation", exc) from None

    def encode(self) -> bytes:
        return dag_cbor.encode(self.to_canonical())

    def signing_message(self) -> bytes:
        """What the inviter signs: a domain-tagged hash of the canonical invite."""
        return tagged_hash(INVITATION_SIGNING_DOMAIN, self.encode())

    @property
    def invitation_id(self) -> InvitationId:
        return InvitationId(tagged_hash(_ID_DOMAIN, self.encode()))

    def is_expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_ms


@attrs.frozen
class SignedInvite:
    """An invite and the inviter's signature; :meth:`code` is what users pass around."""

    invite: Invite = attrs.field(validator=attrs.validators.instance_of(Invite))
    signature: bytes = attrs.field(validator=_sized(64), repr=lambda s: s[:8].hex() + "…")

    @property
    def invitation_id(self) -> InvitationId:
        return self.invite.invitation_id

    def verify(self) -> None:
        """Raise :class:`InvitationForged` unless the signature is the inviter key's."""
        invite = self.invite
        if not ed25519_valid(invite.inviter_key, invite.signing_message(), self.signature):
            raise InvitationForged(
                f"the invitation from {invite.inviter} carries a signature that does not verify: "
                "the code was altered or forged"
            )

    def to_canonical(self) -> dict[str, Any]:
        value = self.invite.to_canonical()
        value["sig"] = self.signature
        return value

    @classmethod
    def from_canonical(cls, value: Any) -> SignedInvite:
        """Strict decode and signature check."""
        if type(value) is not dict:
            raise InvalidEncoding(f"invitation must be a map, got {type(value).__name__}")
        body = dict(value)
        signature = read_bytes(body.pop("sig", None), "invitation signature", size=64)
        signed = cls(Invite.from_canonical(body), signature)
        signed.verify()
        return signed

    def code(self) -> str:
        """``aura:v1:`` + unpadded base64url of the canonical encoding."""
        raw = dag_cbor.encode(self.to_canonical())
        return CODE_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def parse(cls, code: object) -> SignedInvite:
        """Parse and verify a code; every refusal names the problem.

        ``InvalidInvitationCode`` for anything malformed, ``InvitationForged``
        when the signature does not verify. Expiry, cancellation and replays
        depend on the time and on journals, and are checked when the
        invitation is accepted.
        """
        if type(code) is not str:
            raise InvalidInvitationCode(f"an invitation code is text, got {type(code).__name__}")
        text = code.strip()
        if len(text) > MAX_CODE_CHARS:
            raise InvalidInvitationCode(
                f"invitation code is {len(text)} characters, more than {MAX_CODE_CHARS}"
            )
        if not text.startswith("aura:"):
            raise InvalidInvitationCode(
                "not an Aura invitation code (it must start with 'aura:v1:')"
            )
        version, sep, payload = text[len("aura:") :].partition(":")
        if not sep:
            raise InvalidInvitationCode("invitation code has no version ('aura:v1:...')")
        if version != f"v{INVITATION_VERSION}":
            raise InvalidInvitationCode(
                f"invitation code version {version[:16]!r} is not supported "
                f"(this software reads v{INVITATION_VERSION}); upgrade to accept it"
            )
        if not payload:
            raise InvalidInvitationCode("invitation code is empty after 'aura:v1:' (truncated)")
        if "=" in payload:
            raise InvalidInvitationCode("invitation code must not carry base64 padding '='")
        if not _BASE64URL.fullmatch(payload):
            raise InvalidInvitationCode(
                "invitation code contains characters outside base64url (A-Z a-z 0-9 - _)"
            )
        if len(payload) % 4 == 1:
            raise InvalidInvitationCode(
                "invitation code has an impossible length: it was truncated"
            )
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):  # pragma: no cover - the alphabet check comes first
            raise InvalidInvitationCode("invitation code is not valid base64url") from None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != payload:
            raise InvalidInvitationCode("invitation code is not canonical base64url (altered)")
        try:
            value = dag_cbor.decode(raw, allow_floats=False)
        except InvalidEncoding as exc:
            raise InvalidInvitationCode(
                f"invitation code is truncated or corrupted ({exc.message})"
            ) from None
        try:
            return cls.from_canonical(value)
        except InvitationForged:
            raise
        except InvalidEncoding as exc:
            raise InvalidInvitationCode(f"invitation code is malformed: {exc.message}") from None


def sign_invite(invite: Invite, signer: Ed25519Signer) -> SignedInvite:
    """Sign ``invite`` with the inviter's key (which must be the key the invite names)."""
    if not isinstance(invite, Invite):
        raise InvalidInput(f"expected an Invite, got {type(invite).__name__}")
    if signer.public_key != invite.inviter_key:
        raise InvalidInput("the signer's key is not the inviter key the invite names")
    return SignedInvite(invite, signer.sign(invite.signing_message()))

"""Relay mailboxes named by a route alone: how device and guardian frames cross relays.

A live agent started without a transport reaches peers only through relays.
Contacts have per-context descriptors for that; the custody and recovery
ceremonies do not: they address a device by ``str(DeviceId)`` (which is the
device agent's route) and a guardian by ``str(AuthorityId)``. This module
turns such a route into a relay mailbox:

* from the route string alone, a BLAKE3 KDF (versioned contexts) derives the
  mailbox key (its tag is what the relay sees) and an X25519 keypair the
  frames are sealed to. Anyone who holds the route can therefore deposit a
  frame there and the route's owner reads it;
* the route string acts as a *capability*, not a secret: device and authority
  ids appear in invitations, journals and recovery requests. The relay sees
  only an opaque tag and a padded ciphertext; a party that knows the route
  could also open frames sealed to it. Confidentiality and authenticity of
  the ceremonies therefore rest on the ceremony messages themselves: key
  shares are sealed to their recipients' own encryption keys and every
  custody and recovery message is signed and checked by the receiving
  protocol. What this layer adds is reachability and an unlinkable tag on
  the wire, nothing more;
* the sealed body carries the sender's own route (unauthenticated, as above)
  so the receiver can answer.

Only canonical device and authority ids are routes here; anything else
(``relay:`` context routes, simulator names) is someone else's business.
"""

from __future__ import annotations

from typing import Any

import attrs
import nacl.bindings

from aura_agent.agent_frame import ServiceFrame, decode_frame
from aura_agent.relay_mail import Deposit, MailboxWatch
from aura_core import dag_cbor
from aura_core.effects import CryptoEffects
from aura_core.errors import (
    AuraError,
    InvalidEncoding,
    InvalidIdentifier,
    InvalidInput,
    ValidationError,
)
from aura_core.hashing import kdf
from aura_core.identifiers import AuthorityId, DeviceId
from aura_features.rendezvous import (
    MAX_BODY_BYTES,
    MailboxKey,
    RelayHint,
    SealedEnvelope,
    padded_size,
)

__all__ = [
    "ROUTE_MAIL_VERSION",
    "RouteLetter",
    "RouteMailbox",
    "open_route_frame",
    "open_route_mail",
    "route_kind",
    "route_watch",
    "seal_route_mail",
]

ROUTE_MAIL_VERSION = 1
_MAILBOX_KDF = "aura.agent.route-mail.mailbox.v1"
_SEAL_KDF = "aura.agent.route-mail.seal.v1"
_MAX_ROUTE_CHARS = 128
_KEYS = frozenset({"v", "to", "from", "frame", "pad"})


def route_kind(route: object) -> str | None:
    """``"device"`` or ``"authority"`` for a canonical id string, else ``None``."""
    if type(route) is not str or not 0 < len(route) <= _MAX_ROUTE_CHARS:
        return None
    for kind, parser in (("device", DeviceId), ("authority", AuthorityId)):
        if route.startswith(parser.prefix + "-"):
            try:
                parsed = parser.parse(route)
            except (InvalidIdentifier, InvalidInput):
                return None
            return kind if str(parsed) == route else None
    return None


@attrs.frozen(repr=False)
class RouteMailbox:
    """The mailbox and seal keys of one route (derived, never stored)."""

    route: str
    key: MailboxKey
    seal_private: bytes
    seal_public: bytes

    @classmethod
    def of(cls, route: str) -> RouteMailbox:
        if route_kind(route) is None:
            raise InvalidInput("a route mailbox needs a device or authority id as its route")
        material = route.encode("ascii")
        seal_private = kdf(_SEAL_KDF, material, 32)
        return cls(
            route,
            MailboxKey(kdf(_MAILBOX_KDF, material, 32)),
            seal_private,
            nacl.bindings.crypto_scalarmult_base(seal_private),
        )

    def __repr__(self) -> str:
        return f"RouteMailbox({self.route}, tag={self.key.tag})"


@attrs.frozen
class RouteLetter:
    """An opened route envelope: who says it sent it, and the agent frame."""

    source: str
    frame: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


def _encode(fields: dict[str, Any]) -> bytes:
    """Pad the body to a size bucket so the relay learns little from lengths."""
    fields["pad"] = b""
    base = len(dag_cbor.encode(fields))
    target = padded_size(base)
    encoded = b""
    for _ in range(4):  # the pad's own length header may grow by a byte or two
        fields["pad"] = bytes(max(target - base, 0))
        encoded = dag_cbor.encode(fields)
        if len(encoded) <= target:
            break
        base += len(encoded) - target
    return encoded


def seal_route_mail(
    crypto: CryptoEffects,
    *,
    route: str,
    source: str,
    frame: bytes,
    relays: tuple[RelayHint, ...],
) -> Deposit:
    """``frame`` from ``source``, sealed to ``route``'s mailbox, to leave at ``relays``."""
    if route_kind(source) is None:
        raise InvalidInput("the sender's route must be a device or authority id")
    if type(frame) is not bytes or len(frame) > MAX_BODY_BYTES:
        raise InvalidInput(f"a route frame is bytes of at most {MAX_BODY_BYTES}")
    if not relays:
        raise InvalidInput("route mail needs at least one relay")
    mailbox = RouteMailbox.of(route)
    tag = mailbox.key.tag
    body = _encode({"v": ROUTE_MAIL_VERSION, "to": route, "from": source, "frame": frame})
    return Deposit(
        tuple(relays), SealedEnvelope(tag, crypto.seal(mailbox.seal_public, body, tag.raw))
    )


def open_route_mail(
    crypto: CryptoEffects, mailbox: RouteMailbox, envelope: SealedEnvelope
) -> RouteLetter:
    """Unseal an envelope fetched from ``mailbox``; ``AuraError`` for anything malformed."""
    if not isinstance(envelope, SealedEnvelope):
        raise InvalidInput(f"expected a SealedEnvelope, got {type(envelope).__name__}")
    if envelope.tag != mailbox.key.tag:
        raise InvalidInput("the envelope is tagged for another mailbox")
    plaintext = crypto.unseal(mailbox.seal_private, envelope.ciphertext, envelope.tag.raw)
    try:
        fields = dag_cbor.decode(plaintext, allow_floats=False)
    except AuraError as exc:
        raise InvalidEncoding(f"route mail body is not canonical CBOR: {exc.message}") from None
    if not isinstance(fields, dict) or set(fields) != _KEYS:
        raise InvalidEncoding("route mail body must be a map of v, to, from, frame and pad")
    if fields["v"] != ROUTE_MAIL_VERSION or type(fields["v"]) is not int:
        raise InvalidEncoding(f"unsupported route mail version {fields['v']!r:.20}")
    if fields["to"] != mailbox.route:
        raise InvalidEncoding("route mail is addressed to another route")
    source, frame, pad = fields["from"], fields["frame"], fields["pad"]
    if route_kind(source) is None:
        raise InvalidEncoding("route mail names no valid sender route")
    if type(frame) is not bytes or len(frame) > MAX_BODY_BYTES:
        raise InvalidEncoding(f"route mail frame must be bytes of at most {MAX_BODY_BYTES}")
    if type(pad) is not bytes or any(pad):
        raise InvalidEncoding("route mail padding must be zero bytes")
    return RouteLetter(source, frame)


def route_watch(owner: str, route: str, relays: tuple[RelayHint, ...]) -> MailboxWatch:
    """The mailbox of ``route``, read by the feature ``owner`` (the label is the mailbox)."""
    mailbox = RouteMailbox.of(route)
    return MailboxWatch(owner, mailbox.key, tuple(relays), mailbox)


def open_route_frame(
    crypto: CryptoEffects, watch: MailboxWatch, envelope: SealedEnvelope, features: frozenset[str]
) -> RouteLetter:
    """Open mail fetched for a :func:`route_watch`; only service frames of ``features`` pass.

    A route mailbox is open to anyone holding the route, so what may come in
    is narrowed to the ceremonies the owner runs (never sync or contact frames).
    """
    mailbox = watch.label
    if not isinstance(mailbox, RouteMailbox):
        raise InvalidInput("the mailbox watch is not a route mailbox")
    letter = open_route_mail(crypto, mailbox, envelope)
    frame = decode_frame(letter.frame)
    if not isinstance(frame, ServiceFrame) or frame.feature not in features:
        raise ValidationError(
            f"a route mailbox of {mailbox.route:.60} takes only {', '.join(sorted(features))} frames"
        )
    return letter

"""Vote statements: what a witness says about an instance, signed with its vote key.

Three kinds, all naming ``(consensus id, prestate hash, rid, witness, epoch)``:

* ``vote``  — "I vote for rid" (a witness that was not asked for a share, or
  whose nonce was gone);
* ``share`` — the same plus the signing package (the signers' nonce
  commitments) and the witness's FROST signature share over the decision
  message of that package;
* ``offer`` — fallback: the same plus, for every t-subset of witnesses that
  contains the signer, a fresh nonce commitment to sign with in that subset.
  ``round`` grows when the witness replaces its offers (after a restart
  lost its nonces, or when a package it led can no longer complete).

Because every statement names its rid and is signed by the witness's own
Ed25519 key, two statements by one witness with different rids for the same
(consensus id, prestate) are a self-contained proof of equivocation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError

from aura_core import dag_cbor
from aura_core.canonical_fields import read_bytes, read_choice, read_list, read_map, read_uint
from aura_core.crypto import SigningCommitments
from aura_core.crypto.ed25519_group import ORDER
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput
from aura_protocol.consensus._wire_fields import (
    commitments_to_canonical,
    read_commitment,
    read_commitment_list,
    read_ids,
)
from aura_protocol.consensus.binding import ConsensusId
from aura_protocol.consensus.witness_set import MAX_WITNESSES, WitnessCredentials

__all__ = [
    "MAX_OFFERS",
    "NonceOffer",
    "SignedVote",
    "VoteKind",
    "VoteStatement",
]

VoteKind = str
"""One of ``"vote"``, ``"share"``, ``"offer"``."""

_KINDS = ("vote", "share", "offer")
_SIGNING_PREFIX = b"\x16AURA_CONSENSUS_VOTE_V1"
MAX_OFFERS = 64
"""Upper bound on offers in one statement (C(6, 3) = 20 for the largest allowed set)."""
_MAX_ROUND = 1 << 20


def _hash32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"VoteStatement.{attribute.name} must be 32 bytes")


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        raise InvalidInput(f"{attribute.name} must be an integer in 1..65535")


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidInput(f"{attribute.name} must be an integer in 0..2**64-1")


@attrs.frozen
class NonceOffer:
    """A fallback nonce commitment, usable only in the signing package of ``subset``."""

    subset: tuple[int, ...]
    commitments: SigningCommitments

    def __attrs_post_init__(self) -> None:
        ids = self.subset
        if type(ids) is not tuple or not ids or any(type(i) is not int for i in ids):
            raise InvalidInput("NonceOffer.subset must be a non-empty tuple of identifiers")
        if list(ids) != sorted(set(ids)):
            raise InvalidInput("NonceOffer.subset must be strictly ascending")
        if not isinstance(self.commitments, SigningCommitments):
            raise InvalidInput("NonceOffer.commitments must be SigningCommitments")
        if self.commitments.identifier not in ids:
            raise InvalidInput("a nonce offer's subset must contain its own signer")


def _to_commitments(value: object) -> tuple[SigningCommitments, ...]:
    if isinstance(value, bytes | str) or not isinstance(value, Iterable):
        raise InvalidInput("VoteStatement.package must be a sequence of SigningCommitments")
    return tuple(value)  # type: ignore[arg-type]


def _to_offers(value: object) -> tuple[NonceOffer, ...]:
    if isinstance(value, bytes | str) or not isinstance(value, Iterable):
        raise InvalidInput("VoteStatement.offers must be a sequence of NonceOffer")
    return tuple(value)  # type: ignore[arg-type]


@attrs.frozen
class VoteStatement:
    """The signed content of a vote, share or fallback offer (see the module docstring)."""

    kind: VoteKind
    consensus_id: ConsensusId = attrs.field(validator=attrs.validators.instance_of(ConsensusId))
    prestate_hash: bytes = attrs.field(validator=_hash32)
    rid: bytes = attrs.field(validator=_hash32)
    witness: int = attrs.field(validator=_identifier)
    epoch: int = attrs.field(validator=_u64)
    package: tuple[SigningCommitments, ...] = attrs.field(default=(), converter=_to_commitments)
    share: int | None = None
    round: int = attrs.field(default=0, validator=_u64)
    offers: tuple[NonceOffer, ...] = attrs.field(default=(), converter=_to_offers)

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidInput(f"VoteStatement.kind must be one of {list(_KINDS)}")
        if self.kind == "share":
            if not self.package or len(self.package) > MAX_WITNESSES:
                raise InvalidInput(
                    f"a share statement needs a package of 1..{MAX_WITNESSES} signers"
                )
            ids = [c.identifier for c in self.package if isinstance(c, SigningCommitments)]
            if len(ids) != len(self.package) or ids != sorted(set(ids)):
                raise InvalidInput("a share statement's package must be sorted SigningCommitments")
            if self.witness not in ids:
                raise InvalidInput("a share statement's package must contain its signer")
            if type(self.share) is not int or not 0 <= self.share < ORDER:
                raise InvalidInput("a share statement needs a canonical scalar share")
        elif self.package or self.share is not None:
            raise InvalidInput(f"a {self.kind} statement carries no package or share")
        if self.kind == "offer":
            if not self.offers or len(self.offers) > MAX_OFFERS:
                raise InvalidInput(f"an offer statement needs 1..{MAX_OFFERS} nonce offers")
            subsets = set()
            for offer in self.offers:
                if not isinstance(offer, NonceOffer):
                    raise InvalidInput("offers must be NonceOffer values")
                if offer.commitments.identifier != self.witness:
                    raise InvalidInput("every nonce offer must be the signer's own commitment")
                if offer.subset in subsets:
                    raise InvalidInput(f"two nonce offers for subset {list(offer.subset)}")
                subsets.add(offer.subset)
        elif self.offers or self.round:
            raise InvalidInput(f"a {self.kind} statement carries no offers or round")

    @property
    def instance(self) -> tuple[ConsensusId, bytes]:
        return (self.consensus_id, self.prestate_hash)

    @property
    def participants(self) -> tuple[int, ...]:
        return tuple(c.identifier for c in self.package)

    def offer_for(self, subset: tuple[int, ...]) -> SigningCommitments | None:
        for offer in self.offers:
            if offer.subset == subset:
                return offer.commitments
        return None

    def to_canonical(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "cid": self.consensus_id.raw,
            "prestate": self.prestate_hash,
            "rid": self.rid,
            "witness": self.witness,
            "epoch": self.epoch,
        }
        if self.kind == "share":
            assert self.share is not None
            out["package"] = commitments_to_canonical(self.package)
            out["share"] = self.share.to_bytes(32, "little")
        elif self.kind == "offer":
            out["round"] = self.round
            out["offers"] = [
                [list(o.subset), bytes(o.commitments.hiding), bytes(o.commitments.binding)]
                for o in self.offers
            ]
        return out

    @classmethod
    def from_canonical(cls, value: object) -> VoteStatement:
        """Strict inverse of :meth:`to_canonical`; raises :class:`InvalidEncoding`."""
        if type(value) is not dict:
            raise InvalidEncoding(f"vote statement must be a map, got {type(value).__name__}")
        kind = read_choice(value.get("kind"), "vote kind", _KINDS)
        common = ("kind", "cid", "prestate", "rid", "witness", "epoch")
        extra = {"vote": (), "share": ("package", "share"), "offer": ("round", "offers")}[kind]
        fields = read_map(value, f"{kind} statement", (*common, *extra))
        witness = read_uint(fields["witness"], "vote witness", minimum=1, maximum=65535)
        package: tuple[SigningCommitments, ...] = ()
        share = None
        round_ = 0
        offers: tuple[NonceOffer, ...] = ()
        if kind == "share":
            package = read_commitment_list(
                fields["package"], "share package", max_items=MAX_WITNESSES
            )
            raw = read_bytes(fields["share"], "signature share", size=32)
            share = int.from_bytes(raw, "little")
            if share >= ORDER:
                raise InvalidEncoding("signature share is not a canonical scalar")
        elif kind == "offer":
            round_ = read_uint(fields["round"], "offer round", maximum=_MAX_ROUND)
            items = read_list(fields["offers"], "nonce offers", max_items=MAX_OFFERS)
            decoded = []
            for item in items:
                parts = read_list(item, "nonce offer", max_items=3)
                if len(parts) != 3:
                    raise InvalidEncoding("nonce offer must be [subset, hiding, binding]")
                subset = read_ids(parts[0], "nonce offer subset", max_items=MAX_WITNESSES)
                commitment = read_commitment([witness, parts[1], parts[2]], "nonce offer")
                decoded.append((subset, commitment))
            offers = tuple(_offer(subset, commitment) for subset, commitment in decoded)
        try:
            return cls(
                kind,
                ConsensusId(read_bytes(fields["cid"], "consensus id", size=32)),
                read_bytes(fields["prestate"], "prestate hash", size=32),
                read_bytes(fields["rid"], "rid", size=32),
                witness,
                read_uint(fields["epoch"], "vote epoch"),
                package,
                share,
                round_,
                offers,
            )
        except InvalidEncoding:
            raise
        except InvalidInput as exc:
            raise InvalidEncoding(f"invalid {kind} statement: {exc.message}") from None

    def signing_bytes(self) -> bytes:
        return _SIGNING_PREFIX + dag_cbor.encode(self.to_canonical())

    def sign(self, credentials: WitnessCredentials) -> SignedVote:
        """Sign with ``credentials``' vote key (which must belong to :attr:`witness`)."""
        if credentials.identifier != self.witness:
            raise InvalidInput(
                f"witness {credentials.identifier} cannot sign a statement of witness {self.witness}"
            )
        return SignedVote(self, credentials.sign_vote(self.signing_bytes()))


def _offer(subset: tuple[int, ...], commitment: SigningCommitments) -> NonceOffer:
    try:
        return NonceOffer(subset, commitment)
    except InvalidInput as exc:
        raise InvalidEncoding(f"invalid nonce offer: {exc.message}") from None


def _sig64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 64:
        raise InvalidInput(f"SignedVote.{attribute.name} must be a 64-byte Ed25519 signature")


@attrs.frozen
class SignedVote:
    """A statement with its Ed25519 signature by the witness's vote key."""

    statement: VoteStatement = attrs.field(validator=attrs.validators.instance_of(VoteStatement))
    signature: bytes = attrs.field(validator=_sig64, repr=lambda s: s[:6].hex() + "…")

    def verify(self, vote_key: bytes) -> None:
        """Raise :class:`CryptoError` unless the signature is ``vote_key``'s over the statement."""
        try:
            crypto_sign_open(self.signature + self.statement.signing_bytes(), vote_key)
        except (BadSignatureError, NaclCryptoError, ValueError, TypeError):
            raise CryptoError(
                f"{self.statement.kind} statement of witness {self.statement.witness} "
                "is not signed by its vote key"
            ) from None

    def is_valid(self, vote_key: bytes) -> bool:
        try:
            self.verify(vote_key)
        except CryptoError:
            return False
        return True

    def to_canonical(self) -> dict[str, Any]:
        return {"statement": self.statement.to_canonical(), "sig": self.signature}

    @classmethod
    def from_canonical(cls, value: object) -> SignedVote:
        fields = read_map(value, "signed vote", ("statement", "sig"))
        return cls(
            VoteStatement.from_canonical(fields["statement"]),
            read_bytes(fields["sig"], "vote signature", size=64),
        )

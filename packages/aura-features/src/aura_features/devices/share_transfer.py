"""Moving the account key to new holders: dealing sealed reshare shares, collecting them.

This wraps ``aura_core.crypto``'s resharing (dealer ``d`` shares
``λ_d·s_d`` with a fresh polynomial; recipients check every commitment's
constant term against the dealer's public verifying share, so the group key
cannot move) with what a real deployment needs around it:

* each share is sealed to the recipient's X25519 key, the associated data
  binding the change, the round, the dealer and the recipient — a share
  copied to another recipient, change or round does not open;
* each deal is signed by the dealer's identity key (a device's leaf key, a
  guardian's signing key), so recipients accept deals only from the dealers
  the authorization names, and a dealer that sends two different deals is
  caught (:class:`~aura_core.errors.ProtocolViolation`);
* recipients finalize only when every dealer's deal is in, and report the
  public key package they computed so the coordinator can check they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aura_core.crypto import (
    KeyPackage,
    PublicKeyPackage,
    RandomSource,
    ReshareCommitment,
    ReshareShare,
    from_bytes,
    reshare_finalize,
    reshare_round1,
    to_bytes,
)
from aura_core.effects import CryptoEffects
from aura_core.errors import CryptoError, InvalidEncoding, InvalidInput, ProtocolViolation
from aura_core.hashing import tagged_hash
from aura_features.devices.custody_change import CustodyChange
from aura_features.devices.custody_messages import ShareDeal, sign_message, signature_valid

__all__ = ["ShareCollector", "make_deal", "open_share", "seal_share"]

_SEAL_DOMAIN = "AURA_CUSTODY_SHARE_SEAL_V1"

Sign = Callable[[str, bytes], bytes]


def _aad(change_hash: bytes, round_: int, dealer: int, recipient: int) -> bytes:
    return tagged_hash(
        _SEAL_DOMAIN,
        change_hash,
        round_.to_bytes(4, "big"),
        dealer.to_bytes(2, "big"),
        recipient.to_bytes(2, "big"),
    )


def seal_share(
    crypto: CryptoEffects,
    recipient_key: bytes,
    share: ReshareShare,
    change_hash: bytes,
    round_: int,
) -> bytes:
    """The share sealed to ``recipient_key``, bound to (change, round, dealer, recipient)."""
    return crypto.seal(
        recipient_key, to_bytes(share), _aad(change_hash, round_, share.sender, share.recipient)
    )


def open_share(
    crypto: CryptoEffects,
    private_key: bytes,
    sealed: bytes,
    *,
    change_hash: bytes,
    round_: int,
    dealer: int,
    recipient: int,
) -> ReshareShare:
    """Open a sealed share; :class:`CryptoError` if it is not for us, this change, this dealer."""
    plaintext = crypto.unseal(private_key, sealed, _aad(change_hash, round_, dealer, recipient))
    try:
        share = from_bytes(plaintext, ReshareShare)
    except InvalidEncoding as exc:
        raise CryptoError(
            f"sealed share from dealer {dealer} holds no share: {exc.message}"
        ) from None
    if share.sender != dealer or share.recipient != recipient:
        raise CryptoError(f"sealed share from dealer {dealer} names another dealer or recipient")
    return share


def make_deal(
    *,
    change: CustodyChange,
    round_: int,
    key_package: KeyPackage,
    dealer_package: PublicKeyPackage,
    dealers: tuple[int, ...],
    recipient_keys: Mapping[int, bytes],
    sign: Sign,
    rng: RandomSource,
    crypto: CryptoEffects,
    journal: tuple[bytes, ...] = (),
) -> ShareDeal:
    """As dealer: reshare our weighted share to ``recipient_keys`` (identifier -> X25519 key)."""
    commitment, shares = reshare_round1(
        key_package,
        dealer_package,
        dealers,
        recipient_keys.keys(),
        change.recipient_threshold,
        rng,
    )
    change_hash = change.hash
    sealed = tuple(
        (
            share.recipient,
            seal_share(crypto, recipient_keys[share.recipient], share, change_hash, round_),
        )
        for share in sorted(shares, key=lambda s: s.recipient)
    )
    deal = ShareDeal(
        change_hash, round_, key_package.identifier, to_bytes(commitment), sealed, journal
    )
    return sign_message(deal, sign)


class ShareCollector:
    """A recipient's side of one round: check each dealer's deal, then assemble the new key."""

    def __init__(
        self,
        *,
        identifier: int,
        change: CustodyChange,
        round_: int,
        dealers: tuple[int, ...],
        dealer_package: PublicKeyPackage,
        dealer_keys: Mapping[int, bytes],
        encryption_private: bytes,
        crypto: CryptoEffects,
    ) -> None:
        missing = [d for d in dealers if d not in dealer_keys]
        if missing:
            raise InvalidInput(f"no identity key known for dealer(s) {missing}")
        self.identifier = identifier
        self.change = change
        self.change_hash = change.hash
        self.round = round_
        self.dealers = dealers
        self._dealer_package = dealer_package
        self._dealer_keys = dict(dealer_keys)
        self._private = encryption_private
        self._crypto = crypto
        self._deals: dict[int, ShareDeal] = {}
        self._commitments: dict[int, ReshareCommitment] = {}
        self._shares: dict[int, ReshareShare] = {}

    @property
    def complete(self) -> bool:
        return len(self._shares) == len(self.dealers)

    @property
    def deals(self) -> tuple[ShareDeal, ...]:
        return tuple(self._deals[d] for d in sorted(self._deals))

    def add(self, deal: ShareDeal) -> bool:
        """Take one deal; ``True`` if it was new. Raises if it is not a valid deal for us."""
        if deal.change_hash != self.change_hash or deal.round != self.round:
            raise ProtocolViolation("deal is for another change or round")
        if deal.dealer not in self.dealers:
            raise ProtocolViolation(f"participant {deal.dealer} is not a dealer of this round")
        if not signature_valid(deal, self._dealer_keys[deal.dealer]):
            raise CryptoError(f"deal of dealer {deal.dealer} is not signed by its key")
        held = self._deals.get(deal.dealer)
        if held is not None:
            if held != deal:
                raise ProtocolViolation(f"dealer {deal.dealer} sent two different deals")
            return False
        try:
            commitment = from_bytes(deal.commitment, ReshareCommitment)
        except InvalidEncoding as exc:
            raise ProtocolViolation(f"deal of dealer {deal.dealer}: {exc.message}") from None
        if commitment.sender != deal.dealer:
            raise ProtocolViolation(
                f"deal of dealer {deal.dealer} carries another dealer's commitment"
            )
        sealed = dict(deal.shares)
        if sorted(sealed) != sorted(m.identifier for m in self.change.recipients):
            raise ProtocolViolation(f"deal of dealer {deal.dealer} does not cover every recipient")
        share = open_share(
            self._crypto,
            self._private,
            sealed[self.identifier],
            change_hash=self.change_hash,
            round_=self.round,
            dealer=deal.dealer,
            recipient=self.identifier,
        )
        self._deals[deal.dealer] = deal
        self._commitments[deal.dealer] = commitment
        self._shares[deal.dealer] = share
        return True

    def finalize(self) -> tuple[KeyPackage, PublicKeyPackage]:
        """The new key package (checked against every dealer's commitment) and group info."""
        if not self.complete:
            raise InvalidInput("not every dealer's deal has arrived")
        return reshare_finalize(
            self.identifier,
            [m.identifier for m in self.change.recipients],
            self.change.recipient_threshold,
            self._dealer_package,
            self.dealers,
            self._commitments.values(),
            self._shares.values(),
        )

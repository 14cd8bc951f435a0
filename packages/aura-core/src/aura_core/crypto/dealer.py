"""Trusted-dealer key generation (RFC 9591 Appendix C).

One party draws the group secret and a random polynomial, hands every
participant a share with the Feldman commitment, and must then forget it all.
Use it where one device legitimately knows the whole key anyway (e.g.
splitting an existing key); otherwise prefer the DKG, which has no dealer.
"""

from __future__ import annotations

from collections.abc import Sequence

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.keys import PublicKeyPackage, SecretShare
from aura_core.crypto.participants import check_threshold
from aura_core.crypto.random_source import RandomSource, random_nonzero_scalar
from aura_core.crypto.shamir import secret_share_shard
from aura_core.crypto.vss import vss_commit
from aura_core.errors import InvalidInput

__all__ = ["trusted_dealer_keygen"]


def trusted_dealer_keygen(
    max_signers: int,
    min_signers: int,
    rng: RandomSource,
    *,
    secret_key: int | None = None,
    identifiers: Sequence[int] | None = None,
) -> tuple[tuple[SecretShare, ...], PublicKeyPackage]:
    """Split a (fresh or given) group secret into ``min_signers``-of-``max_signers`` shares.

    Returns one :class:`SecretShare` per participant (identifiers 1..n unless
    given) and the :class:`PublicKeyPackage`. ``min_signers == 1`` is only
    allowed with one participant: the result is then a plain Ed25519 key.
    """
    check_threshold(min_signers, max_signers)
    if secret_key is None:
        secret_key = random_nonzero_scalar(rng)
    elif not isinstance(secret_key, int) or not 0 < secret_key < group.ORDER:
        raise InvalidInput("secret_key must be a nonzero scalar in [1, L)")
    coefficients = [random_nonzero_scalar(rng) for _ in range(min_signers - 1)]
    shares, full = secret_share_shard(
        secret_key, coefficients, max_signers, identifiers=identifiers
    )
    commitment = vss_commit(full)
    secret_shares: list[SecretShare] = []
    verifying_shares = []
    for identifier, value in shares:
        if value == 0:
            # Probability ~2^-252; a zero share has no verifying share.
            raise InvalidInput("dealer drew a polynomial with a zero share; retry")
        secret_shares.append(SecretShare(identifier, value, commitment))
        # The dealer knows each share, so a base multiplication (fast, fixed
        # base) gives the verifying share instead of evaluating the commitment.
        verifying_shares.append(
            (identifier, group.to_element(group.base_mult(value), name="verifying share"))
        )
    public = PublicKeyPackage(
        verifying_shares=tuple(verifying_shares),
        verifying_key=commitment.public_key,
        min_signers=min_signers,
    )
    return tuple(secret_shares), public

"""A witness's outstanding fast-path nonces, per initiator.

The fast path is one round trip because the initiator already holds a nonce
commitment of each witness, handed out with the previous reply. The witness
keeps the matching secret nonces here, a few per initiator, and each one
leaves the pool the moment it is used: a FROST nonce signs exactly one
package, ever. Nonces live only in memory — a crash loses them, which costs
a round trip, never safety.
"""

from __future__ import annotations

from collections import OrderedDict

from aura_core.crypto import KeyPackage, RandomSource, SigningCommitments, SigningNonces, commit

__all__ = ["NoncePool"]


class NoncePool:
    """Secret nonces keyed by the initiator they were offered to and their commitment."""

    def __init__(
        self,
        key_package: KeyPackage,
        rng: RandomSource,
        *,
        per_source: int = 8,
        max_sources: int = 64,
    ) -> None:
        self._key_package = key_package
        self._rng = rng
        self._per_source = per_source
        self._max_sources = max_sources
        self._pools: OrderedDict[str, OrderedDict[SigningCommitments, SigningNonces]] = (
            OrderedDict()
        )

    def issue(self, source: str, count: int = 1) -> tuple[SigningCommitments, ...]:
        """Draw ``count`` fresh nonces for ``source``; the oldest beyond the cap are forgotten."""
        pool = self._pools.pop(source, None)
        if pool is None:
            pool = OrderedDict()
        self._pools[source] = pool  # most recently used last
        while len(self._pools) > self._max_sources:
            self._pools.popitem(last=False)
        issued = []
        for _ in range(count):
            nonces, commitments = commit(self._key_package, self._rng)
            pool[commitments] = nonces
            issued.append(commitments)
        while len(pool) > self._per_source:
            pool.popitem(last=False)
        return tuple(issued)

    def take(self, source: str, commitments: SigningCommitments) -> SigningNonces | None:
        """Remove and return the nonces behind ``commitments`` offered to ``source``."""
        pool = self._pools.get(source)
        if pool is None:
            return None
        return pool.pop(commitments, None)

    def outstanding(self, source: str) -> int:
        pool = self._pools.get(source)
        return 0 if pool is None else len(pool)

    def clear(self) -> None:
        """Forget every nonce (epoch change: a new key package)."""
        self._pools.clear()

    def rekey(self, key_package: KeyPackage) -> None:
        self._key_package = key_package
        self.clear()

"""Capability authorization: evaluating a parsed token, and parsing + verifying one.

Typical policy: a device token (delegated by a 2-of-3 FROST group key)
granting three capabilities in two contexts, with an expiry, one attenuation
block (operations + time) and a check that a journal fact is present; the
request carries eight journal facts. ``authorize_us`` is a decision on an
already verified token (the hot path of the capability guard);
``parse_verify_us`` decodes the token bytes, verifies the delegation
signature, the Biscuit signature chain, the token's shape and its grants.
"""

from __future__ import annotations

import random
import uuid

from aura_core import AuthorityId, ContextId, Epoch, PhysicalTime
from aura_core.crypto import frost
from aura_core.crypto.dealer import trusted_dealer_keygen
from aura_core.crypto.keys import key_package_from_secret_share
from aura_journal.authorization import (
    AccessRequest,
    Attenuation,
    Capability,
    CapabilityAuthorizer,
    CapabilityToken,
    DatalogFact,
    Delegation,
    DeviceRootKey,
    SignedDelegation,
    TrustedAuthority,
)
from benchmarks._timing import median_us

GOALS = {
    "authorize_us": "median µs per authorize() on a verified token, typical policy; goal <= 60",
    "parse_verify_us": "median µs per verify() of token bytes (delegation + Biscuit + shape); no goal",
    "attenuate_us": "median µs to append one attenuation block (no goal)",
    "token_bytes": "size of the encoded token (delegation + Biscuit)",
}


class _SeededRandom:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def _setup() -> tuple[CapabilityAuthorizer, bytes, AccessRequest, list[DatalogFact], PhysicalTime]:
    rng = _SeededRandom(2024)
    shares, public = trusted_dealer_keygen(3, 2, rng)
    signers = [key_package_from_secret_share(s) for s in shares[:2]]
    authority = AuthorityId(uuid.UUID(int=1).bytes)
    group_key = bytes(public.verifying_key)
    root = DeviceRootKey.from_seed(bytes([7]) * 32)
    send, read, react = (Capability.parse(c) for c in ("chat:send", "chat:read", "chat:react"))
    statement = Delegation.of(
        authority=authority,
        group_key=group_key,
        device_root=root.public_key,
        epoch=Epoch(3),
        capabilities=[send, read, react],
    )
    rounds = [frost.commit(kp, rng) for kp in signers]
    package = frost.SigningPackage.from_unsorted(
        [c for _, c in rounds], statement.signing_message()
    )
    shares_ = [frost.sign(package, n, kp) for (n, _), kp in zip(rounds, signers, strict=True)]
    delegation = SignedDelegation(statement, frost.aggregate(package, shares_, public))
    home, other = ContextId(uuid.UUID(int=2).bytes), ContextId(uuid.UUID(int=3).bytes)
    now = PhysicalTime(1_700_000_000_000)
    member = DatalogFact("member", (str(home), "alice"))
    token = CapabilityToken.issue(
        root=root,
        delegation=delegation,
        grants=[(home, send), (home, read), (other, react)],
        not_after=PhysicalTime(now.ts_ms + 86_400_000),
    ).attenuate(
        Attenuation(
            operations=frozenset({send, read}),
            not_after=PhysicalTime(now.ts_ms + 3_600_000),
            required_facts=(member,),
        )
    )
    facts = [member] + [DatalogFact("message_seen", (f"msg-{i}", i)) for i in range(7)]
    authorizer = CapabilityAuthorizer([TrustedAuthority(authority, group_key, Epoch(3))])
    return authorizer, token.to_bytes(), AccessRequest(home, send), facts, now


def run(quick: bool) -> dict[str, float | int | str]:
    authorizer, data, request, facts, now = _setup()
    verified = authorizer.verify(data, now=now)
    authorizer.authorize(verified, request, now=now, facts=facts)  # must pass
    token = CapabilityToken.from_bytes(data)
    extra = Attenuation(operations=frozenset({request.capability}))
    number = 200 if quick else 3000
    return {
        "authorize_us": median_us(
            lambda: authorizer.authorize(verified, request, now=now, facts=facts), number=number
        ),
        "parse_verify_us": median_us(
            lambda: authorizer.verify(data, now=now), number=max(20, number // 10)
        ),
        "attenuate_us": median_us(lambda: token.attenuate(extra), number=max(20, number // 10)),
        "token_bytes": len(data),
    }

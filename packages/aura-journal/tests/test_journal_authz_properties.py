"""Laws: the capability frontier is a meet-semilattice, and attenuation never widens."""

from __future__ import annotations

import uuid

import nacl.signing
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core import AuthorityId, ContextId, Epoch, PhysicalTime, check_meet_laws
from aura_core.errors import AuthorizationDenied
from aura_journal.authorization import (
    AccessRequest,
    Attenuation,
    Capability,
    CapabilityAuthorizer,
    CapabilityFrontier,
    CapabilityToken,
    DatalogFact,
    Delegation,
    DeviceRootKey,
    SignedDelegation,
    TrustedAuthority,
)

CONTEXTS = [ContextId(uuid.UUID(int=i + 1).bytes) for i in range(3)]
CAPABILITIES = [Capability.parse(c) for c in ("chat:send", "chat:read", "tree:rotate")]
RESOURCES = ["alpha", "beta"]
NOW = PhysicalTime(1_700_000_000_000)
TIMES = [NOW, PhysicalTime(NOW.ts_ms + 3_600_000)]
MEMBER = DatalogFact("member", ("bob",))

GROUP = nacl.signing.SigningKey(bytes([42]) * 32)
AUTHORITY = AuthorityId(bytes(range(16)))
ROOT = DeviceRootKey.from_seed(bytes([5]) * 32)
STATEMENT = Delegation.of(
    authority=AUTHORITY,
    group_key=GROUP.verify_key.encode(),
    device_root=ROOT.public_key,
    epoch=Epoch(4),
    capabilities=CAPABILITIES,
)
DELEGATION = SignedDelegation(STATEMENT, GROUP.sign(STATEMENT.signing_message()).signature)
AUTHORIZER = CapabilityAuthorizer(
    [TrustedAuthority(AUTHORITY, GROUP.verify_key.encode(), Epoch(4))]
)

grants = st.frozensets(st.tuples(st.sampled_from(CONTEXTS), st.sampled_from(CAPABILITIES)))
frontiers = grants.map(CapabilityFrontier)


@settings(max_examples=200)
@given(frontiers, frontiers, frontiers)
@example(CapabilityFrontier.empty(), CapabilityFrontier.empty(), CapabilityFrontier.empty())
def test_frontier_meet_is_a_semilattice_that_never_widens(a, b, c):
    check_meet_laws(a, b, c)
    met = a.meet(b)
    assert met.is_within(a) and met.is_within(b)
    # the meet is the greatest lower bound: anything below both is below the meet
    assert c.meet(a).meet(b).is_within(met)
    assert CapabilityFrontier.meet_all([a, b, c]) == a.meet(b).meet(c)


def subsets(items):
    return st.none() | st.frozensets(st.sampled_from(items), max_size=len(items))


def allowed(token: CapabilityToken) -> set[tuple]:
    verified = AUTHORIZER.verify(token, now=NOW)
    result = set()
    for context in CONTEXTS:
        for capability in CAPABILITIES:
            for resource in [None, *RESOURCES]:
                for now in TIMES:
                    request = AccessRequest(context, capability, resource)
                    try:
                        AUTHORIZER.authorize(verified, request, now=now, facts=[MEMBER])
                    except AuthorizationDenied:
                        continue
                    result.add((context, capability, resource, now.ts_ms))
    return result


@st.composite
def attenuation_chains(draw):
    chain = []
    for _ in range(draw(st.integers(1, 3))):
        fields = {
            "operations": draw(subsets(CAPABILITIES)),
            "contexts": draw(subsets(CONTEXTS)),
            "resources": draw(subsets(RESOURCES)),
            "not_after": draw(st.none() | st.just(PhysicalTime(NOW.ts_ms + 60_000))),
            "required_facts": draw(
                st.sampled_from([(), (MEMBER,), (DatalogFact("member", ("eve",)),)])
            ),
        }
        if all(v is None or v == () for v in fields.values()):
            fields["operations"] = frozenset(CAPABILITIES)
        chain.append(Attenuation(**fields))
    return chain


@settings(max_examples=25, deadline=None)
@given(grants.filter(bool), attenuation_chains())
def test_attenuation_never_widens(granted, chain):
    token = CapabilityToken.issue(root=ROOT, delegation=DELEGATION, grants=granted)
    before = allowed(token)
    assert {(ctx, cap) for ctx, cap, _, _ in before} == set(granted)
    for attenuation in chain:
        token = token.attenuate(attenuation)
        after = allowed(token)
        assert after <= before
        before = after
    frontier = AUTHORIZER.grants_of(token, now=NOW, facts=[MEMBER])
    assert frontier.is_within(CapabilityFrontier(granted))

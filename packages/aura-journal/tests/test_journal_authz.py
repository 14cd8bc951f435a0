"""Capability tokens: issue, attenuate, serialize, authorize, and every denial path."""

from __future__ import annotations

import random
import uuid

import biscuit_auth
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core import AuthorityId, ContextId, Epoch, ErrorKind, PhysicalTime
from aura_core.crypto import frost
from aura_core.crypto.dealer import trusted_dealer_keygen
from aura_core.crypto.keys import key_package_from_secret_share
from aura_core.errors import AuthorizationDenied, InvalidEncoding, InvalidInput
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
    EvaluationLimits,
    SignedDelegation,
    TokenLimits,
    TrustedAuthority,
)

NOW = PhysicalTime(1_700_000_000_000)
LATER = PhysicalTime(1_800_000_000_000)
SEND = Capability.parse("chat:send")
READ = Capability.parse("chat:read")
ROTATE = Capability.parse("tree:rotate")


class SeededRandom:
    """Deterministic randomness for key generation in tests."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


class ThresholdAccount:
    """A 2-of-3 FROST account: its group key signs delegations."""

    def __init__(self, seed: int) -> None:
        self.rng = SeededRandom(seed)
        shares, self.public = trusted_dealer_keygen(3, 2, self.rng)
        self.key_packages = [key_package_from_secret_share(s) for s in shares]
        self.group_key = bytes(self.public.verifying_key)
        self.authority = AuthorityId(self.rng.random_bytes(16))

    def sign(self, message: bytes, signers: tuple[int, ...] = (0, 2)) -> bytes:
        chosen = [self.key_packages[i] for i in signers]
        rounds = [frost.commit(kp, self.rng) for kp in chosen]
        package = frost.SigningPackage.from_unsorted([c for _, c in rounds], message)
        shares = [frost.sign(package, n, kp) for (n, _), kp in zip(rounds, chosen, strict=True)]
        return frost.aggregate(package, shares, self.public)

    def delegate(
        self,
        root: DeviceRootKey,
        *,
        epoch: int = 1,
        capabilities: frozenset[Capability] = frozenset({SEND, READ}),
        contexts: frozenset[ContextId] | None = None,
        not_after: PhysicalTime | None = None,
    ) -> SignedDelegation:
        statement = Delegation.of(
            authority=self.authority,
            group_key=self.group_key,
            device_root=root.public_key,
            epoch=Epoch(epoch),
            capabilities=capabilities,
            contexts=contexts,
            not_after=not_after,
        )
        return SignedDelegation(statement, self.sign(statement.signing_message()))

    def trusted(self, epoch: int = 1) -> TrustedAuthority:
        return TrustedAuthority(self.authority, self.group_key, Epoch(epoch))


ACCOUNT = ThresholdAccount(1)
OTHER_ACCOUNT = ThresholdAccount(2)
CTX = ContextId(bytes(range(16)))
CTX2 = ContextId(bytes(range(1, 17)))
DEVICE = DeviceRootKey.from_seed(bytes([1]) * 32)


def ctx(n: int) -> ContextId:
    return ContextId(uuid.UUID(int=n + 1000).bytes)


def issue(
    *,
    grants=((CTX, SEND), (CTX, READ), (CTX2, SEND)),
    not_after: PhysicalTime | None = None,
    delegation: SignedDelegation | None = None,
    root: DeviceRootKey = DEVICE,
) -> CapabilityToken:
    return CapabilityToken.issue(
        root=root,
        delegation=delegation or ACCOUNT.delegate(root),
        grants=list(grants),
        not_after=not_after,
    )


def authorizer(epoch: int = 1, **kwargs) -> CapabilityAuthorizer:
    return CapabilityAuthorizer([ACCOUNT.trusted(epoch)], **kwargs)


def denied(token, request, *, now=NOW, facts=(), az=None) -> str:
    with pytest.raises(AuthorizationDenied) as info:
        (az or authorizer()).authorize(token, request, now=now, facts=facts)
    error = info.value
    # Nothing from the library (which may quote token source) is chained.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return info.value.message


# --- issue, serialize, authorize ------------------------------------------------------------


def test_issue_serialize_parse_and_authorize():
    token = issue(not_after=LATER)
    data = token.to_bytes()
    assert CapabilityToken.from_bytes(data) == token
    result = authorizer().authorize(data, AccessRequest(CTX, SEND), now=NOW)
    assert result.authority == ACCOUNT.authority
    assert result.epoch == Epoch(1)
    assert result.device_root == DEVICE.public_key
    assert (result.context, result.capability) == (CTX, SEND)


def test_verified_token_exposes_grants_and_is_reusable():
    az = authorizer()
    verified = az.verify(issue(), now=NOW)
    assert verified.grants == {(CTX, SEND), (CTX, READ), (CTX2, SEND)}
    for request in (AccessRequest(CTX, SEND), AccessRequest(CTX, READ), AccessRequest(CTX2, SEND)):
        az.authorize(verified, request, now=NOW)
    assert "grants" not in repr(verified)


def test_attenuated_token_survives_serialization():
    token = issue().attenuate(Attenuation(operations=frozenset({SEND})))
    again = CapabilityToken.from_bytes(token.to_bytes())
    az = authorizer()
    az.authorize(again, AccessRequest(CTX, SEND), now=NOW)
    assert "operation" in denied(again, AccessRequest(CTX, READ))


def test_issue_refuses_grants_beyond_the_delegation():
    narrow = ACCOUNT.delegate(DEVICE, capabilities=frozenset({SEND}), contexts=frozenset({CTX}))
    with pytest.raises(InvalidInput, match="does not allow"):
        issue(grants=[(CTX, READ)], delegation=narrow)
    with pytest.raises(InvalidInput, match="does not allow"):
        issue(grants=[(CTX2, SEND)], delegation=narrow)
    with pytest.raises(InvalidInput, match="device root"):
        issue(delegation=narrow, root=DeviceRootKey.from_seed(bytes([9]) * 32))
    with pytest.raises(InvalidInput, match="at least one"):
        issue(grants=[])


def test_issue_accepts_a_frontier():
    frontier = CapabilityFrontier.of({CTX: [SEND]})
    token = CapabilityToken.issue(root=DEVICE, delegation=ACCOUNT.delegate(DEVICE), grants=frontier)
    assert authorizer().verify(token, now=NOW).grants == frontier.grants


# --- capability names and Datalog facts -----------------------------------------------------


def test_capability_names_are_namespaced_and_strict():
    assert str(Capability.parse("chat:send")) == "chat:send"
    assert Capability.qualify("rotate", "key_rotation") == Capability("key_rotation", "rotate")
    assert Capability.qualify("tree:rotate", "key_rotation") == ROTATE
    for bad in [
        "send",
        "Chat:send",
        "chat:",
        ":send",
        "chat:send ok",
        'chat:"x"',
        "a" * 40 + ":x",
        7,
    ]:
        with pytest.raises(InvalidInput):
            Capability.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not namespaced"):
        Capability.qualify("rotate", None)


def test_datalog_facts_are_validated_strictly():
    assert DatalogFact("member", ("bob", 3, b"\x00", True)).terms == ("bob", 3, b"\x00", True)
    bad_names = ["Member", "1x", 'x"); allow if true; y("', "x y", "", "time", "capability"]
    for name in bad_names:
        with pytest.raises(InvalidInput):
            DatalogFact(name, ("a",))
    for terms in [
        (),
        (1.5,),
        (None,),
        (2**63,),
        (-(2**63) - 1,),
        ("a\x00",),
        (["x"],),
        ("x" * 2000,),
    ]:
        with pytest.raises(InvalidInput):
            DatalogFact("member", terms)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        DatalogFact("member", ["a"])  # type: ignore[arg-type]


def test_hostile_strings_in_journal_facts_cannot_inject_datalog():
    token = issue().attenuate(Attenuation(required_facts=(DatalogFact("member", ("bob",)),)))
    hostile = 'mallory"); member("bob'
    facts = [DatalogFact("member", (hostile,)), DatalogFact("note", ('"); allow if true; x("',))]
    assert "condition" in denied(token, AccessRequest(CTX, SEND), facts=facts)
    authorizer().authorize(
        token, AccessRequest(CTX, SEND), now=NOW, facts=[DatalogFact("member", ("bob",))]
    )


def test_required_journal_facts_gate_the_token():
    fact = DatalogFact("member", (str(CTX), "bob", 2))
    token = issue().attenuate(Attenuation(required_facts=(fact,)))
    az = authorizer()
    az.authorize(token, AccessRequest(CTX, SEND), now=NOW, facts=[fact])
    message = denied(
        token, AccessRequest(CTX, SEND), facts=[DatalogFact("member", (str(CTX), "bob", 3))]
    )
    assert message == "authorization denied: token check failed: condition (block 1, check 0)"


# --- attenuation dimensions -----------------------------------------------------------------


def test_attenuation_restricts_operation_context_resource_and_time():
    base = issue()
    az = authorizer()
    by_context = base.attenuate(Attenuation(contexts=frozenset({CTX2})))
    az.authorize(by_context, AccessRequest(CTX2, SEND), now=NOW)
    assert "context (block 1" in denied(by_context, AccessRequest(CTX, SEND))

    by_resource = base.attenuate(Attenuation(resources=frozenset({"channel-a"})))
    az.authorize(by_resource, AccessRequest(CTX, SEND, "channel-a"), now=NOW)
    assert "resource" in denied(by_resource, AccessRequest(CTX, SEND, "channel-b"))
    assert "resource" in denied(by_resource, AccessRequest(CTX, SEND))

    by_time = base.attenuate(Attenuation(not_after=PhysicalTime(NOW.ts_ms + 60_000)))
    az.authorize(by_time, AccessRequest(CTX, SEND), now=NOW)
    assert "expiry (block 1" in denied(by_time, AccessRequest(CTX, SEND), now=LATER)

    nothing = base.attenuate(Attenuation(operations=frozenset()))
    assert "operation" in denied(nothing, AccessRequest(CTX, SEND))


def test_attenuation_must_restrict_something():
    with pytest.raises(InvalidInput, match="at least one"):
        Attenuation()
    with pytest.raises(InvalidInput):
        Attenuation(operations={SEND})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Attenuation(resources=frozenset({""}))


def test_expiry_is_conservative_about_uncertainty_and_rounding():
    deadline = PhysicalTime(NOW.ts_ms + 10_000)
    token = issue(not_after=deadline)
    az = authorizer()
    az.authorize(token, AccessRequest(CTX, SEND), now=PhysicalTime(NOW.ts_ms + 9_000))
    # 9.5 s after NOW with 1 s uncertainty could already be past the deadline.
    late = PhysicalTime(NOW.ts_ms + 9_500, uncertainty_ms=1_000)
    assert "expiry (block 0" in denied(token, AccessRequest(CTX, SEND), now=late)


# --- denial paths -----------------------------------------------------------------------


def test_missing_capability_and_wrong_context_are_named():
    token = issue(grants=[(CTX, SEND)])
    assert "missing capability" in denied(token, AccessRequest(CTX, ROTATE))
    assert denied(token, AccessRequest(CTX2, SEND)).startswith("authorization denied: context")


def test_expired_token_is_denied():
    token = issue(not_after=PhysicalTime(NOW.ts_ms - 1_000))
    assert "expiry" in denied(token, AccessRequest(CTX, SEND))


def test_expired_delegation_is_denied():
    short = ACCOUNT.delegate(DEVICE, not_after=PhysicalTime(NOW.ts_ms + 1_000))
    token = issue(delegation=short)
    authorizer().authorize(token, AccessRequest(CTX, SEND), now=NOW)
    assert "delegation expired" in denied(token, AccessRequest(CTX, SEND), now=LATER)


def test_token_from_a_foreign_root_is_denied():
    foreign_device = DeviceRootKey.from_seed(bytes([2]) * 32)
    forged = CapabilityToken.issue(
        root=foreign_device,
        delegation=OTHER_ACCOUNT.delegate(foreign_device),
        grants=[(CTX, SEND)],
    )
    assert "untrusted authority" in denied(forged, AccessRequest(CTX, SEND))
    # A genuine delegation carrying a token signed by some other root key.
    genuine = ACCOUNT.delegate(DEVICE)
    swapped = CapabilityToken(genuine, forged.biscuit)
    assert "token signature" in denied(swapped, AccessRequest(CTX, SEND))


def test_delegation_under_a_different_group_key_is_denied():
    statement = ACCOUNT.delegate(DEVICE).statement
    impostor = Delegation.of(
        authority=ACCOUNT.authority,
        group_key=OTHER_ACCOUNT.group_key,
        device_root=DEVICE.public_key,
        epoch=Epoch(1),
        capabilities=statement.capabilities,
    )
    signed = SignedDelegation(impostor, OTHER_ACCOUNT.sign(impostor.signing_message()))
    token = issue(delegation=signed)
    assert "different group key" in denied(token, AccessRequest(CTX, SEND))


def test_revoked_epoch_is_denied_and_future_epoch_is_transient():
    token = issue()
    az = authorizer()
    verified = az.verify(token, now=NOW)
    rotated = az.with_authority(ACCOUNT.trusted(epoch=2))
    message = denied(verified, AccessRequest(CTX, SEND), az=rotated)
    assert message == "authorization denied: revoked epoch (delegation epoch 1 < current 2)"
    with pytest.raises(AuthorizationDenied) as info:
        authorizer(epoch=0).verify(token, now=NOW)
    assert info.value.kind is ErrorKind.TRANSIENT


def test_denials_do_not_leak_token_contents():
    secret_context = ctx(7)
    resource = "diary-of-alice"
    token = issue(grants=[(secret_context, SEND)], not_after=PhysicalTime(NOW.ts_ms - 1)).attenuate(
        Attenuation(resources=frozenset({resource}), contexts=frozenset({secret_context}))
    )
    message = denied(token, AccessRequest(secret_context, SEND, "other"))
    for secret in (str(secret_context), resource, str(ACCOUNT.authority), secret_context.uuid.hex):
        assert secret not in message
    assert "expiry" in message and "resource" in message


def test_hostile_token_bytes_only_raise_authorization_denied():
    az = authorizer()
    good = issue().to_bytes()
    rng = random.Random(5)
    for _ in range(200):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        try:
            az.verify(bytes(data), now=NOW)
        except AuthorizationDenied:
            pass
    for junk in (b"", b"\xa0", b"\x00" * 50, good + b"\x00", good[:-1]):
        with pytest.raises(AuthorizationDenied):
            az.verify(junk, now=NOW)


def test_token_decoding_is_strict():
    good = issue()
    with pytest.raises(InvalidEncoding, match="trailing"):
        CapabilityToken.from_bytes(good.to_bytes() + b"\x00")
    with pytest.raises(InvalidEncoding):
        SignedDelegation.from_bytes(good.delegation.to_bytes()[:-1])
    canonical = good.delegation.statement.to_canonical()
    canonical["capabilities"] = list(reversed(canonical["capabilities"]))
    with pytest.raises(InvalidEncoding, match="sorted"):
        Delegation.from_canonical(canonical)
    canonical = good.delegation.statement.to_canonical()
    canonical["extra"] = 1
    with pytest.raises(InvalidEncoding, match="exactly"):
        Delegation.from_canonical(canonical)


# --- the threshold root and a stolen device ------------------------------------------------


def raw_token(root: DeviceRootKey, source: str, params: dict | None = None) -> bytes:
    return bytes(
        biscuit_auth.BiscuitBuilder(source, params or {}).build(root.private_key).to_bytes()
    )


def test_threshold_signed_delegation_verifies_with_plain_ed25519():
    signed = ACCOUNT.delegate(DEVICE)
    signed.verify(ACCOUNT.group_key)
    other_signers = SignedDelegation(
        signed.statement, ACCOUNT.sign(signed.statement.signing_message(), signers=(1, 2))
    )
    other_signers.verify(ACCOUNT.group_key)


def test_stolen_device_cannot_mint_undelegated_authority():
    # The account delegates chat:send in one context to the device; the device key is stolen.
    stolen_seed = bytes([3]) * 32
    stolen = DeviceRootKey.from_seed(stolen_seed)
    delegation = ACCOUNT.delegate(stolen, capabilities=frozenset({SEND}), contexts=frozenset({CTX}))
    az = authorizer()
    legit = CapabilityToken.issue(root=stolen, delegation=delegation, grants=[(CTX, SEND)])
    az.authorize(legit, AccessRequest(CTX, SEND), now=NOW)

    authority, epoch = str(ACCOUNT.authority), 1
    header = "authority({a}); epoch({e}); "
    # 1. a capability the account never delegated
    minted = raw_token(
        stolen,
        header + "capability({c}, {cap});",
        {"a": authority, "e": epoch, "c": str(CTX), "cap": "tree:rotate"},
    )
    assert "delegation ceiling" in denied(
        CapabilityToken(delegation, minted), AccessRequest(CTX, ROTATE)
    )
    # 2. a delegated capability in a context outside the delegation
    minted = raw_token(
        stolen,
        header + "capability({c}, {cap});",
        {"a": authority, "e": epoch, "c": str(CTX2), "cap": "chat:send"},
    )
    assert "delegation ceiling" in denied(
        CapabilityToken(delegation, minted), AccessRequest(CTX2, SEND)
    )
    # 3. a delegation the device signs for itself
    self_signed_statement = Delegation.of(
        authority=ACCOUNT.authority,
        group_key=ACCOUNT.group_key,
        device_root=stolen.public_key,
        epoch=Epoch(1),
        capabilities=[SEND, ROTATE],
    )
    import nacl.signing

    self_signed = SignedDelegation(
        self_signed_statement,
        nacl.signing.SigningKey(stolen_seed)
        .sign(self_signed_statement.signing_message())
        .signature,
    )
    token = CapabilityToken.issue(root=stolen, delegation=self_signed, grants=[(CTX, ROTATE)])
    assert "delegation (" in denied(token, AccessRequest(CTX, ROTATE))
    # 4. the genuine signature on a widened statement
    widened = SignedDelegation(self_signed_statement, delegation.signature)
    assert "delegation (" in denied(
        CapabilityToken(widened, token.biscuit), AccessRequest(CTX, ROTATE)
    )
    # 5. request facts asserted by the token itself, to dodge expiry checks
    minted = raw_token(
        stolen,
        header + 'capability({c}, "chat:send"); time(1970-01-01T00:00:00Z);',
        {"a": authority, "e": epoch, "c": str(CTX)},
    )
    assert "token shape" in denied(CapabilityToken(delegation, minted), AccessRequest(CTX, SEND))
    # 6. claiming another epoch or authority than the delegation
    minted = raw_token(
        stolen, header + 'capability({c}, "chat:send");', {"a": authority, "e": 2, "c": str(CTX)}
    )
    assert "token binding" in denied(CapabilityToken(delegation, minted), AccessRequest(CTX, SEND))
    # 7. once the account rotates its epoch, even in-ceiling tokens of the stolen device die
    rotated = az.with_authority(ACCOUNT.trusted(epoch=2))
    assert "revoked epoch" in denied(legit, AccessRequest(CTX, SEND), az=rotated)


# --- evaluation limits ----------------------------------------------------------------------


def test_valid_request_passes_under_the_chosen_limits():
    # A realistic context: 2000 journal facts and a token with several attenuation blocks.
    facts = [DatalogFact("message_seen", (f"msg-{i}", i)) for i in range(1999)]
    facts.append(DatalogFact("member", (str(CTX), "bob")))
    token = issue(not_after=LATER)
    for attenuation in (
        Attenuation(operations=frozenset({SEND, READ})),
        Attenuation(contexts=frozenset({CTX})),
        Attenuation(required_facts=(DatalogFact("member", (str(CTX), "bob")),)),
        Attenuation(not_after=PhysicalTime(LATER.ts_ms - 1)),
    ):
        token = token.attenuate(attenuation)
    assert EvaluationLimits().max_time_us == 20 * EvaluationLimits.biscuit_defaults().max_time_us
    authorizer().authorize(token, AccessRequest(CTX, SEND), now=NOW, facts=facts)


def append_blocks(
    token: CapabilityToken, blocks: list[biscuit_auth.BlockBuilder]
) -> CapabilityToken:
    root = biscuit_auth.PublicKey.from_bytes(DEVICE.public_key, biscuit_auth.Algorithm.Ed25519)
    parsed = biscuit_auth.Biscuit.from_bytes(token.biscuit, root)
    for block in blocks:
        parsed = parsed.append(block)
    return CapabilityToken(token.delegation, bytes(parsed.to_bytes()))


def test_adversarial_rule_fan_out_is_cut_off():
    base = 'authority({a}); epoch(1); capability({c}, "chat:send"); '
    params = {"a": str(ACCOUNT.authority), "c": str(CTX)}
    delegation = ACCOUNT.delegate(DEVICE)
    numbers = "".join(f"n({i});" for i in range(60))
    # fan-out through a rule: 60^3 derived facts from 60 facts, refused before evaluation
    bomb = raw_token(DEVICE, base + numbers + "p($a, $b, $c) <- n($a), n($b), n($c);", params)
    assert "carries a rule" in denied(CapabilityToken(delegation, bomb), AccessRequest(CTX, SEND))
    # the same join moved into a check: two large relations, refused before evaluation
    facts = [DatalogFact("message_seen", (f"m{i}", i)) for i in range(2000)]
    join = biscuit_auth.BlockBuilder()
    join.add_check(
        biscuit_auth.Check("check if message_seen($a, $x), message_seen($b, $y), $x + $y == -1")
    )
    joined = append_blocks(issue(), [join])
    assert "non-request predicate" in denied(joined, AccessRequest(CTX, SEND), facts=facts)
    # facts smuggled into an attenuation block
    smuggled = append_blocks(issue(), [biscuit_auth.BlockBuilder(numbers)])
    assert "asserts facts" in denied(smuggled, AccessRequest(CTX, SEND))


def test_work_within_shape_limits_is_cut_off_by_the_time_limit():
    # Every check stays linear, but 4 blocks x 16 checks x 4 queries (about all that fits the
    # 16 KiB size limit), each evaluating an expression against 2000 journal facts, is half
    # a million evaluations: the 20 ms run limit stops it (Biscuit checks its clock between
    # checks).
    facts = [DatalogFact("message_seen", (f"m{i}", i)) for i in range(2000)]
    query = "message_seen($m, $i), $i == -1"
    blocks = []
    for _ in range(4):
        block = biscuit_auth.BlockBuilder()
        for _ in range(16):
            block.add_check(biscuit_auth.Check("check if " + " or ".join([query] * 4)))
        blocks.append(block)
    heavy = append_blocks(issue(), blocks)
    assert len(heavy.biscuit) <= TokenLimits().max_bytes
    message = denied(heavy, AccessRequest(CTX, SEND), facts=facts)
    assert message == "authorization denied: evaluation limits exceeded"
    # With a generous budget the same work completes and the checks simply fail:
    # the configured limits, not something else, stopped it above.
    patient = authorizer(limits=EvaluationLimits(max_time_us=60_000_000))
    message = denied(heavy, AccessRequest(CTX, SEND), facts=facts, az=patient)
    assert message.startswith(
        "authorization denied: token check failed: condition (block 1, check 0)"
    )


def test_limits_are_validated():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInput):
            EvaluationLimits(max_time_us=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        CapabilityAuthorizer([ACCOUNT.trusted()], limits="fast")  # type: ignore[arg-type]


def test_token_shape_limits_on_blocks_and_size():
    token = issue()
    for _ in range(16):
        token = token.attenuate(Attenuation(operations=frozenset({SEND})))
    assert "blocks" in denied(token, AccessRequest(CTX, SEND))
    many = issue(grants=[(ctx(i), SEND) for i in range(129)])
    assert "grants" in denied(many, AccessRequest(ctx(0), SEND))


# --- structure decoding agrees with biscuit -------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 5), st.sampled_from([SEND, READ])), min_size=1, max_size=8))
def test_decoded_grants_match_issued_grants(pairs):
    grants = {(ctx(i), cap) for i, cap in pairs}
    token = CapabilityToken.issue(root=DEVICE, delegation=ACCOUNT.delegate(DEVICE), grants=grants)
    assert authorizer().verify(token, now=NOW).grants == grants


def test_frontier_is_the_meet_of_token_grants():
    az = authorizer()
    wide = issue()
    narrow = wide.attenuate(Attenuation(operations=frozenset({SEND})))
    assert az.grants_of(wide, now=NOW) == CapabilityFrontier.of({CTX: [SEND, READ], CTX2: [SEND]})
    assert az.frontier([wide, narrow], now=NOW) == CapabilityFrontier.of(
        {CTX: [SEND], CTX2: [SEND]}
    )
    expired = issue(not_after=PhysicalTime(NOW.ts_ms - 1))
    assert az.frontier([wide, expired], now=NOW) == CapabilityFrontier.empty()
    with pytest.raises(InvalidInput):
        az.frontier([], now=NOW)


def test_public_api_is_exported():
    import aura_journal
    import aura_journal.authorization as package

    assert aura_journal.authorization is package
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert sorted(package.__all__) == sorted(set(package.__all__))

"""Homes, moderation, neighborhoods and relay selection."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_core.errors import InvalidInput
from aura_core.identifiers import AuthorityId, Epoch, HomeId
from aura_core.time_domains import LogicalTime
from aura_effects import RandomOrderClock, SystemRandom
from aura_features import social
from aura_features.ed25519_signer import KeySigner, attest_fact
from aura_features.rendezvous import (
    MailboxKey,
    RelayHint,
    RendezvousDescriptor,
    publish_descriptor,
)
from aura_features.social import (
    HomeActor,
    HomeMembership,
    HomeModeration,
    HomeRuleViolation,
    HomeStorageFull,
    MembershipOp,
    ModerationOp,
    NotAHomeModerator,
    RelayCandidate,
    RelayTier,
    link_id,
    mutual_neighbors,
    select_relays,
)
from aura_journal import Fact, FactMetadata, Journal
from aura_journal.errors import AttestationInvalid, MissingDependency
from aura_testkit import ManualClock


def _load_parties():
    name = "aura_features_test_parties"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("features_parties.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


P = _load_parties()
RANDOM = SystemRandom()
ORDER = RandomOrderClock(RANDOM)


class Person:
    def __init__(self) -> None:
        self.authority = AuthorityId(os.urandom(16))
        self.signer = KeySigner(os.urandom(32))

    def acting_in(self, home: HomeActor, clock: ManualClock) -> HomeActor:
        return HomeActor(self.authority, self.signer, home.journal, order_clock=ORDER)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock):
    """A home run by ann (moderator) with members bo and cy."""
    ann, bo, cy = Person(), Person(), Person()
    home = HomeActor.create(
        ann.authority,
        ann.signer,
        P.feature_registry(),
        name="Maple Street",
        quota_bytes=1000,
        random=RANDOM,
        order_clock=ORDER,
    )
    home.add_member(bo.authority, bo.signer.public_key)
    home.add_member(cy.authority, cy.signer.public_key)
    return home, ann, bo, cy


def _journal_size(home: HomeActor) -> int:
    return len(home.journal)


# --------------------------------------------------------------------------- homes


def test_home_members_and_moderators(world) -> None:
    home, ann, bo, cy = world
    state = home.state
    assert state.founded and state.name == "Maple Street" and state.creator == ann.authority
    assert set(state.members) == {ann.authority, bo.authority, cy.authority}
    assert state.moderators == {ann.authority}
    assert state.member_key(bo.authority) == bo.signer.public_key
    assert state.refused == ()


def test_only_moderators_moderate(world, clock) -> None:
    home, _ann, bo, cy = world
    as_bo = bo.acting_in(home, clock)
    before = _journal_size(home)
    for action in (
        lambda: as_bo.ban(cy.authority),
        lambda: as_bo.kick(cy.authority),
        lambda: as_bo.mute(cy.authority),
        lambda: as_bo.pin(b"\x01" * 32),
        lambda: as_bo.add_member(AuthorityId(os.urandom(16)), os.urandom(32)),
        lambda: as_bo.grant_moderator(bo.authority),
        lambda: as_bo.set_quota(10**9),
        lambda: as_bo.link_neighbor(HomeId(os.urandom(32))),
    ):
        with pytest.raises(NotAHomeModerator, match="only moderators"):
            action()
    assert _journal_size(home) == before
    home.grant_moderator(bo.authority)
    as_bo.mute(cy.authority, reason="spam")
    assert home.state.is_muted(cy.authority, clock.now().ts_ms)


def test_facts_must_be_signed_with_the_actors_registered_key(world, clock) -> None:
    home, ann, bo, cy = world
    body = HomeModeration(home.home, ModerationOp.BAN, ann.authority, subject=cy.authority)
    forged = attest_fact(
        Fact.create(body, FactMetadata(ORDER.next_order(), LogicalTime(lamport=100))),
        home.journal.namespace,
        bo.signer,
    )
    with pytest.raises(NotAHomeModerator, match="not signed with"):
        home.journal.add(forged)
    outsider = Person()
    body = HomeMembership(home.home, MembershipOp.LEAVE, outsider.authority, outsider.authority)
    stranger = attest_fact(
        Fact.create(body, FactMetadata(ORDER.next_order(), LogicalTime(lamport=100))),
        home.journal.namespace,
        outsider.signer,
    )
    with pytest.raises(NotAHomeModerator, match="not a member"):
        home.journal.add(stranger)


def test_mute_until_and_unmute(world, clock) -> None:
    home, _ann, _bo, cy = world
    now = clock.now().ts_ms
    home.mute(cy.authority, until_ms=now + 5000)
    assert home.state.is_muted(cy.authority, now)
    assert not home.state.is_muted(cy.authority, now + 5000)
    home.moderate("unmute", subject=cy.authority)
    assert not home.state.is_muted(cy.authority, now)
    with pytest.raises(HomeRuleViolation, match="not muted"):
        home.moderate("unmute", subject=cy.authority)


def test_ban_kick_and_pins(world, clock) -> None:
    home, ann, _bo, cy = world
    home.ban(cy.authority, reason="harassment")
    state = home.state
    assert cy.authority not in state.members and cy.authority in state.banned
    with pytest.raises(HomeRuleViolation, match="banned from this home; unban first"):
        home.add_member(cy.authority, cy.signer.public_key)
    home.moderate(ModerationOp.UNBAN, subject=cy.authority)
    home.add_member(cy.authority, cy.signer.public_key)
    home.kick(cy.authority)
    assert not home.state.is_member(cy.authority)
    with pytest.raises(HomeRuleViolation, match="is a moderator; revoke moderation first"):
        home.ban(ann.authority)
    item = os.urandom(32)
    home.pin(item)
    assert home.state.pinned == (item,)
    with pytest.raises(HomeRuleViolation, match="already pinned"):
        home.pin(item)
    home.moderate("unpin", target=item)
    assert home.state.pinned == ()


def test_moderators_cannot_all_disappear(world, clock) -> None:
    home, ann, bo, cy = world
    with pytest.raises(HomeRuleViolation, match="last moderator cannot be revoked"):
        home.revoke_moderator(ann.authority)
    with pytest.raises(HomeRuleViolation, match="last moderator cannot leave"):
        home.leave()
    home.grant_moderator(bo.authority)
    home.leave()
    assert home.state.moderators == {bo.authority}
    as_cy = cy.acting_in(home, clock)
    as_cy.leave()
    assert set(home.state.members) == {bo.authority}


def test_storage_quota(world, clock) -> None:
    home, _ann, bo, cy = world
    as_bo = bo.acting_in(home, clock)
    first, second = os.urandom(32), os.urandom(32)
    as_bo.charge_storage(first, 600)
    with pytest.raises(HomeStorageFull, match="quota exhausted: 600 of 1000 bytes used"):
        as_bo.charge_storage(second, 500)
    as_cy = cy.acting_in(home, clock)
    with pytest.raises(NotAHomeModerator, match="only the member who stored"):
        as_cy.release_storage(first)
    as_bo.release_storage(first)
    as_bo.charge_storage(second, 500)
    home.set_quota(400)
    assert home.state.used_bytes == 500 and home.state.remaining_bytes == 0
    with pytest.raises(HomeStorageFull):
        as_bo.charge_storage(first, 1)


def test_home_facts_stay_in_their_journal(world, clock) -> None:
    home, ann, _bo, _cy = world
    other = HomeActor.create(
        ann.authority,
        ann.signer,
        P.feature_registry(),
        name="Elm",
        quota_bytes=1,
        random=RANDOM,
        order_clock=ORDER,
    )
    moved = home.journal.facts_of_type("home.membership")[0]
    with pytest.raises(AttestationInvalid):  # the signature binds the journal it was made for
        other.journal.add(moved)
    resigned = attest_fact(moved, other.journal.namespace, ann.signer)
    with pytest.raises(HomeRuleViolation, match="belong in its own context journal"):
        other.journal.add(resigned)
    physical = attest_fact(
        Fact.create(
            home.journal.registry.body(moved), FactMetadata(ORDER.next_order(), clock.now())
        ),
        home.journal.namespace,
        ann.signer,
    )
    with pytest.raises(HomeRuleViolation, match="logical \\(Lamport\\) timestamp"):
        home.journal.add(physical)


def test_facts_before_the_creation_wait(clock) -> None:
    ann = Person()
    home = HomeActor.create(
        ann.authority,
        ann.signer,
        P.feature_registry(),
        name="x",
        quota_bytes=1,
        random=RANDOM,
        order_clock=ORDER,
    )
    fresh = Journal(home.journal.namespace, P.feature_registry())
    later = home.pin(b"\x02" * 32)
    with pytest.raises(MissingDependency, match="creation is not known yet"):
        fresh.add(later)


# --------------------------------------------------------------------------- replay determinism


def _concurrent_facts(clock: ManualClock):
    """Two replicas act on the same home concurrently, then exchange facts."""
    ann, bo, cy, dee = Person(), Person(), Person(), Person()
    home = HomeActor.create(
        ann.authority,
        ann.signer,
        P.feature_registry(),
        name="Oak",
        quota_bytes=100,
        random=RANDOM,
        order_clock=ORDER,
    )
    for person in (bo, cy, dee):
        home.add_member(person.authority, person.signer.public_key)
    home.grant_moderator(bo.authority)
    base = list(home.journal)
    replica = Journal(home.journal.namespace, P.feature_registry())
    replica.load_trusted(base)
    ann_side = home
    bo_side = HomeActor(bo.authority, bo.signer, replica, order_clock=ORDER)
    clock.advance(1)
    ann_side.revoke_moderator(bo.authority)  # ann demotes bo ...
    bo_side.ban(cy.authority)  # ... while bo, still a moderator on his replica, bans cy
    clock.advance(1)
    bo_side.pin(b"\x03" * 32)  # after the revocation's timestamp: refused on replay
    ann_side.moderate("mute", subject=dee.authority)
    facts = {f.cid: f for f in [*ann_side.journal, *bo_side.journal]}
    return list(facts.values())


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_home_state_is_the_same_for_every_arrival_order(shuffler: random.Random) -> None:
    facts = _concurrent_facts(ManualClock())
    states = []
    for _ in range(3):
        order = list(facts)
        shuffler.shuffle(order)
        journal = Journal(_namespace_of(facts), P.feature_registry())
        journal.load_trusted(order)
        states.append(journal.state("home").current())
    assert states[0] == states[1] == states[2]
    state = states[0]
    # bo's pin comes after ann's revocation in the Lamport order: always refused. Whether his
    # concurrent ban won depends only on the facts (their order ids), never on arrival order.
    assert state.pinned == () and 1 <= len(state.refused) <= 2
    assert state.moderators == frozenset({state.creator})


def _namespace_of(facts):
    from aura_journal import JournalNamespace

    home = next(f.cached_body.home for f in facts if f.type_id == "home.created")
    return JournalNamespace.context(social.home_context(home))


# --------------------------------------------------------------------------- neighborhoods


def _home(clock: ManualClock, name: str) -> tuple[HomeActor, Person]:
    owner = Person()
    actor = HomeActor.create(
        owner.authority,
        owner.signer,
        P.feature_registry(),
        name=name,
        quota_bytes=1,
        random=RANDOM,
        order_clock=ORDER,
    )
    return actor, owner


def test_neighbors_are_mutual_and_capped(clock) -> None:
    homes = [_home(clock, f"h{i}")[0] for i in range(6)]
    center = homes[0]
    for other in homes[1:5]:
        center.link_neighbor(other.home)
    with pytest.raises(HomeRuleViolation, match="at most 4 neighbors"):
        center.link_neighbor(homes[5].home)
    homes[1].link_neighbor(center.home)
    homes[2].link_neighbor(center.home)
    known = {h.home: h.state for h in homes}
    assert [n.home for n in mutual_neighbors(center.state, known)] == sorted(
        [homes[1].home, homes[2].home]
    )
    assert link_id(center.home, homes[1].home) == link_id(homes[1].home, center.home)
    center.unlink_neighbor(homes[1].home)
    assert [n.home for n in mutual_neighbors(center.state, {h.home: h.state for h in homes})] == [
        homes[2].home
    ]
    with pytest.raises(InvalidInput, match="not its own neighbor"):
        center.link_neighbor(center.home)


def test_descriptors_in_a_home_use_member_keys(world, clock) -> None:
    home, _ann, bo, _cy = world
    descriptor = RendezvousDescriptor(
        authority=bo.authority,
        epoch=Epoch(0),
        addresses=(),
        relays=(),
        noise_key=os.urandom(32),
        seal_key=os.urandom(32),
        receipt_key=bo.signer.public_key,
        mailbox=MailboxKey(os.urandom(32)).tag,
        expires_ms=clock.now().ts_ms + 1000,
    )
    metadata = FactMetadata(ORDER.next_order(), clock.now())
    home.journal.add(
        publish_descriptor(
            descriptor, context=home.journal.namespace.owner, signer=bo.signer, metadata=metadata
        )
    )
    stranger = Person()
    alien = attrs.evolve(descriptor, authority=stranger.authority)
    with pytest.raises(MissingDependency):
        home.journal.add(
            publish_descriptor(
                alien,
                context=home.journal.namespace.owner,
                signer=stranger.signer,
                metadata=metadata,
            )
        )


# --------------------------------------------------------------------------- relay selection


def _relay_world(clock: ManualClock):
    mine, me = _home(clock, "mine")
    near, _ = _home(clock, "near")
    far, _ = _home(clock, "far")  # links to us, but we do not link back: not a neighbor
    mine.link_neighbor(near.home)
    near.link_neighbor(mine.home)
    far.link_neighbor(mine.home)
    friend, neighbor, stranger, foe, outsider = (Person() for _ in range(5))
    mine.add_member(friend.authority, friend.signer.public_key)
    mine.add_member(foe.authority, foe.signer.public_key)
    mine.ban(foe.authority)
    near.add_member(neighbor.authority, neighbor.signer.public_key)
    far.add_member(outsider.authority, outsider.signer.public_key)
    operators = {
        "home": [me.authority, friend.authority],
        "neighborhood": [neighbor.authority],
        "public": [stranger.authority, outsider.authority, None],
        "banned": [foe.authority],
    }
    return mine.state, [near.state, far.state], operators


RELAY_WORLD = _relay_world(ManualClock())


@st.composite
def candidate_sets(draw):
    _home_state, _neighbors, operators = RELAY_WORLD
    pools = [(tier, op) for tier, ops in operators.items() for op in ops]
    count = draw(st.integers(1, 12))
    picks = []
    for _i in range(count):
        tier, operator = draw(st.sampled_from(pools))
        port = draw(st.integers(1, 40))
        key = bytes([port % 7]) * 32
        picks.append(
            (
                tier,
                RelayCandidate(
                    RelayHint(f"tcp://relay{port}.example:{7000 + port}", key), operator
                ),
            )
        )
    return picks


@settings(max_examples=60, deadline=None)
@given(candidate_sets(), st.randoms(use_true_random=False), st.binary(max_size=8))
def test_relay_selection_is_deterministic_and_prefers_the_social_graph(
    picks, shuffler, salt
) -> None:
    home_state, neighbors, _operators = RELAY_WORLD
    candidates = [c for _, c in picks]
    chosen = select_relays(candidates, home=home_state, neighbors=neighbors, salt=salt)
    shuffled = list(candidates)
    shuffler.shuffle(shuffled)
    assert (
        select_relays(shuffled, home=home_state, neighbors=list(reversed(neighbors)), salt=salt)
        == chosen
    )
    tiers = [r.tier for r in chosen]
    assert tiers == sorted(tiers)
    assert len({r.hint for r in chosen}) == len(chosen)
    expected = {
        "home": RelayTier.HOME,
        "neighborhood": RelayTier.NEIGHBORHOOD,
        "public": RelayTier.PUBLIC,
    }
    best: dict = {}
    for tier_name, candidate in picks:
        if tier_name == "banned":
            continue
        tier = expected[tier_name]
        best[candidate.hint] = min(best.get(candidate.hint, tier), tier)
    assert {r.hint: r.tier for r in chosen} == best
    down = {r.hint.address for r in chosen[::2]}
    rest = select_relays(
        candidates, home=home_state, neighbors=neighbors, salt=salt, unreachable=down
    )
    assert [r for r in chosen if r.hint.address not in down] == list(rest)
    assert (
        select_relays(candidates, home=home_state, neighbors=neighbors, salt=salt, limit=2)
        == chosen[:2]
    )


def test_relay_selection_without_a_home_is_all_public() -> None:
    hints = [RelayHint(f"tcp://r{i}.example:1", bytes([i]) * 32) for i in range(4)]
    chosen = select_relays(
        [RelayCandidate(h, AuthorityId(os.urandom(16))) for h in hints], salt=b"me"
    )
    assert {r.tier for r in chosen} == {RelayTier.PUBLIC} and len(chosen) == 4
    by_predicate = select_relays(
        [RelayCandidate(h) for h in hints], unreachable=lambda h: h is hints[0]
    )
    assert hints[0] not in {r.hint for r in by_predicate}
    with pytest.raises(InvalidInput):
        select_relays([hints[0]])  # type: ignore[list-item]


def test_operation_categories_are_declared() -> None:
    assert set(social.OPERATION_CATEGORIES.values()) <= {"A", "B", "C"}
    assert social.OPERATION_CATEGORIES["moderation.ban"] == "B"

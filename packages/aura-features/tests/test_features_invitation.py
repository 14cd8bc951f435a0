"""Invitation codes and the accept / decline / cancel exchange, with hostile codes and facts."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_core import dag_cbor
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId
from aura_features import invitation
from aura_features.ed25519_signer import KeySigner, attest_fact
from aura_features.invitation import (
    CODE_PREFIX,
    ContactProfile,
    InvalidInvitationCode,
    InvitationAccepted,
    InvitationCancelled,
    InvitationExpired,
    InvitationForged,
    InvitationNotFound,
    InvitationReplayed,
    InvitationStatus,
    Invite,
    InviteKind,
    SignedInvite,
    sign_invite,
)
from aura_journal import Fact, FactMetadata, Journal, JournalNamespace
from aura_journal.errors import AttestationInvalid, MissingDependency
from aura_journal.facts import order_time_from_entropy
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
CODE_ERRORS = (InvalidInvitationCode, InvitationForged)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def alice(clock: ManualClock):
    return P.make_party("alice", clock)


@pytest.fixture
def bob(clock: ManualClock):
    return P.make_party("bob", clock)


@pytest.fixture
def carol(clock: ManualClock):
    return P.make_party("carol", clock)


def _fixed_invite(message: str | None = "come join") -> SignedInvite:
    signer = KeySigner(b"\x05" * 32)
    invite = Invite(
        kind=InviteKind.CONTACT,
        inviter=AuthorityId(b"\x01" * 16),
        inviter_key=signer.public_key,
        context_seed=b"\x02" * 32,
        nonce=b"\x03" * 16,
        expires_ms=1_800_000_000_000,
        nickname="alice",
        message=message,
    )
    return sign_invite(invite, signer)


SIGNED = _fixed_invite()
CODE = SIGNED.code()


# --------------------------------------------------------------------------- codes


def test_code_round_trips_and_has_the_documented_shape() -> None:
    assert CODE.startswith(CODE_PREFIX)
    payload = CODE[len(CODE_PREFIX) :]
    assert "=" not in payload
    assert set(payload) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == dag_cbor.encode(SIGNED.to_canonical())
    assert SignedInvite.parse(CODE) == SIGNED
    assert SignedInvite.parse(f"  {CODE}\n") == SIGNED
    assert SignedInvite.parse(CODE).invitation_id == SIGNED.invitation_id


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("", "must start with 'aura:v1:'"),
        ("hello", "must start with 'aura:v1:'"),
        ("aura:", "no version"),
        ("aura:v2:" + CODE[len(CODE_PREFIX) :], "version 'v2' is not supported"),
        ("aura:v10:abc", "version 'v10' is not supported"),
        ("aura:v1:", "empty"),
        (CODE + "=", "padding"),
        (CODE[:-2] + "+/", "outside base64url"),
        (CODE[:-1] + "!", "outside base64url"),
        (CODE + "A" * (4097 - len(CODE)), "more than 4096"),
    ],
)
def test_malformed_codes_name_the_problem(code: str, needle: str) -> None:
    with pytest.raises(InvalidInvitationCode, match=re.escape(needle)):
        SignedInvite.parse(code)


def test_non_text_code_is_refused() -> None:
    with pytest.raises(InvalidInvitationCode, match="is text"):
        SignedInvite.parse(CODE.encode())  # type: ignore[arg-type]


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 10, 40, 100, len(CODE) - len(CODE_PREFIX) - 1])
def test_truncated_codes_are_refused(cut: int) -> None:
    with pytest.raises(InvalidInvitationCode, match=r"truncated|impossible length|altered"):
        SignedInvite.parse(CODE[: len(CODE_PREFIX) + cut])


@settings(max_examples=150, deadline=None)
@given(st.data())
@example(data=None)
def test_any_single_character_change_is_refused(data) -> None:
    payload = CODE[len(CODE_PREFIX) :]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if data is None:  # the last character: a change there can be non-canonical base64
        index, replacement = len(payload) - 1, "B" if payload[-1] != "B" else "C"
    else:
        index = data.draw(st.integers(0, len(payload) - 1))
        replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != payload[index]))
    tampered = CODE_PREFIX + payload[:index] + replacement + payload[index + 1 :]
    with pytest.raises(CODE_ERRORS):
        SignedInvite.parse(tampered)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_payloads_only_raise_code_errors(raw: bytes) -> None:
    code = CODE_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(CODE_ERRORS):
        SignedInvite.parse(code)


def _reencode(value: dict) -> str:
    return CODE_PREFIX + base64.urlsafe_b64encode(dag_cbor.encode(value)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("field", "new"),
    [
        ("from", b"\x09" * 16),
        ("exp", 1_900_000_000_000),
        ("nick", "mallory"),
        ("kind", "guardian"),
        ("seed", b"\x00" * 32),
    ],
)
def test_changing_a_signed_field_breaks_the_signature(field: str, new: object) -> None:
    value = SIGNED.to_canonical()
    value[field] = new
    with pytest.raises(InvitationForged, match="altered or forged"):
        SignedInvite.parse(_reencode(value))


def test_an_invite_signed_by_another_key_than_it_names_is_forged() -> None:
    mallory = KeySigner(b"\x66" * 32)
    value = SIGNED.to_canonical()
    value["sig"] = mallory.sign(SIGNED.invite.signing_message())
    with pytest.raises(InvitationForged):
        SignedInvite.parse(_reencode(value))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda v: v.pop("nonce"), "missing field"),
        (lambda v: v.update(extra=1), "unexpected field"),
        (lambda v: v.update(v=2), "version 2 is not supported"),
        (lambda v: v.update(kind="enemy"), "invitation kind"),
        (lambda v: v.update(nonce=b"\x00" * 3), "nonce must be 16 bytes"),
        (lambda v: v.update(nick="a\x07b"), "control characters"),
        (lambda v: v.update(key=b"\x00" * 32), "inviter_key"),
        (lambda v: v.pop("sig"), "signature must be bytes"),
    ],
)
def test_structurally_wrong_invites_are_refused_by_name(mutate, needle: str) -> None:
    value = SIGNED.to_canonical()
    mutate(value)
    with pytest.raises(InvalidInvitationCode, match=needle):
        SignedInvite.parse(_reencode(value))


def test_signer_must_own_the_named_key() -> None:
    with pytest.raises(InvalidInput, match="not the inviter key"):
        sign_invite(SIGNED.invite, KeySigner(b"\x07" * 32))


# --------------------------------------------------------------------------- the exchange


def test_accept_creates_the_same_context_and_matching_contacts(alice, bob) -> None:
    signed = alice.book.create(nickname="alice", message="hi bob")
    acceptance = bob.book.accept(signed.code(), nickname="bob")
    context = alice.book.admit_acceptance(acceptance.fact.encode())
    assert context == acceptance.context
    assert alice.book.relationships[context] == bob.book.relationships[context]
    assert alice.book.relationships[context].cids() == bob.book.relationships[context].cids()

    (seen_by_alice,) = alice.book.contacts()
    (seen_by_bob,) = bob.book.contacts()
    assert seen_by_alice.peer == bob.authority and seen_by_bob.peer == alice.authority
    assert seen_by_alice.context == seen_by_bob.context == context
    assert seen_by_alice.kind == seen_by_bob.kind == InviteKind.CONTACT
    assert seen_by_alice.nickname == "bob" and seen_by_bob.nickname == "alice"
    assert seen_by_alice.peer_key == bob.signer.public_key
    assert seen_by_bob.peer_key == alice.signer.public_key
    assert seen_by_alice.invited_by_me and not seen_by_bob.invited_by_me
    assert alice.book.status(signed.invitation_id) is InvitationStatus.REDEEMED
    # the context ids depend on both sides: the same code accepted by someone else differs
    assert (
        alice.book.relationship(context).context_secret()
        == bob.book.relationship(context).context_secret()
    )


def test_views_are_reductions_recomputed_from_facts(alice, bob) -> None:
    acceptance = bob.book.accept(alice.book.create(nickname="alice").code(), nickname="bob")
    alice.book.admit_acceptance(acceptance.fact)
    for party in (alice, bob):
        journal = party.book.relationships[acceptance.context]
        fresh = journal.recompute("relationship")
        assert fresh.founding == journal.state("relationship").founding
        assert party.book.journal.recompute("invitation_ledger").accepted_contexts() == (
            party.book.ledger.accepted_contexts()
        )


def test_nicknames_and_petnames_flow_through_facts(alice, bob) -> None:
    acceptance = bob.book.accept(alice.book.create(nickname="alice").code())
    context = alice.book.admit_acceptance(acceptance.fact)
    assert alice.book.contact(context).nickname is None  # bob gave none
    profile = bob.book.set_nickname(context, "Bobby")
    assert alice.book.add_context_fact(context, profile.encode())
    assert alice.book.contact(context).nickname == "Bobby"
    alice.clock.advance(1)
    alice.book.set_petname(bob.authority, "my neighbour")
    assert alice.book.contact(context).nickname == "my neighbour"
    assert alice.book.contact(context).chosen_name == "Bobby"
    alice.clock.advance(1)
    alice.book.set_petname(bob.authority, "")
    assert alice.book.contact(context).nickname == "Bobby"
    assert bob.book.contact(context).nickname == "alice"


def test_expired_code_is_refused(alice, bob) -> None:
    code = alice.book.create(valid_for_s=60).code()
    bob.clock.advance(61)
    with pytest.raises(InvitationExpired, match="has expired; ask for a new one"):
        bob.book.accept(code)
    assert len(bob.book.journal) == 0 and not bob.book.relationships


def test_acceptance_arriving_long_after_expiry_is_refused(alice, bob) -> None:
    signed = alice.book.create(valid_for_s=60)
    acceptance = bob.book.accept(signed.code())
    alice.clock.advance(60 + 2 * 24 * 3600)
    with pytest.raises(InvitationExpired, match="expired before its acceptance arrived"):
        alice.book.admit_acceptance(acceptance.fact)
    assert alice.book.status(signed.invitation_id) is InvitationStatus.EXPIRED


def test_cancelled_invitation_is_refused_and_nothing_changes(alice, bob) -> None:
    signed = alice.book.create()
    acceptance = bob.book.accept(signed.code())
    alice.book.cancel(signed.invitation_id)
    before = len(alice.book.journal)
    with pytest.raises(InvitationCancelled, match="was cancelled"):
        alice.book.admit_acceptance(acceptance.fact)
    assert len(alice.book.journal) == before and not alice.book.relationships
    assert alice.book.status(signed.invitation_id) is InvitationStatus.CANCELLED


def test_replays_are_refused_on_both_sides(alice, bob, carol) -> None:
    signed = alice.book.create()
    code = signed.code()
    first = bob.book.accept(code)
    with pytest.raises(InvitationReplayed, match="already accepted"):
        bob.book.accept(code)
    context = alice.book.admit_acceptance(first.fact)
    assert alice.book.admit_acceptance(first.fact) == context  # the same acceptance again: harmless
    late = carol.book.accept(code)
    with pytest.raises(InvitationReplayed, match="a code works once"):
        alice.book.admit_acceptance(late.fact)
    with pytest.raises(InvitationReplayed, match="can no longer be cancelled"):
        alice.book.cancel(signed.invitation_id)
    assert len(alice.book.relationships) == 1


def test_decline_then_accept_is_a_replay(alice, bob) -> None:
    code = alice.book.create().code()
    bob.book.decline(code)
    with pytest.raises(InvitationReplayed, match="already declined"):
        bob.book.accept(code)
    assert not bob.book.relationships


def test_own_and_foreign_invitations(alice, bob, carol) -> None:
    code = alice.book.create().code()
    with pytest.raises(InvalidInput, match="our own invitation"):
        alice.book.accept(code)
    acceptance = bob.book.accept(code)
    with pytest.raises(InvitationNotFound, match="not issued by"):
        carol.book.admit_acceptance(acceptance.fact)
    with pytest.raises(InvitationNotFound):
        carol.book.cancel(acceptance.invitation)


def test_forged_acceptances_are_refused(alice, bob, carol) -> None:
    signed = alice.book.create()
    honest = bob.book.accept(signed.code())
    body: InvitationAccepted = honest.fact.cached_body
    namespace = JournalNamespace.context(body.context)
    # carol signs an acceptance that names bob's key: the attestation does not match
    forged = attest_fact(Fact.create(body, honest.fact.metadata), namespace, carol.signer)
    with pytest.raises(AttestationInvalid, match="invitee's key"):
        alice.book.admit_acceptance(forged)
    # an acceptance placed in another context journal than the one its seeds derive
    other = Journal(JournalNamespace.context(ContextId(os.urandom(16))), P.feature_registry())
    with pytest.raises(ValidationError, match="must be derived from both sides' seeds"):
        other.add(attest_fact(Fact.create(body, honest.fact.metadata), other.namespace, bob.signer))
    assert not alice.book.relationships


def test_profiles_must_come_from_members_with_their_keys(alice, bob, carol) -> None:
    acceptance = bob.book.accept(alice.book.create().code())
    context = alice.book.admit_acceptance(acceptance.fact)
    journal = alice.book.relationships[context]
    namespace = journal.namespace
    stamp = FactMetadata(order_time_from_entropy(os.urandom(16)), alice.clock.now())
    outsider = attest_fact(
        Fact.create(ContactProfile(carol.authority, "carol"), stamp), namespace, carol.signer
    )
    with pytest.raises(MissingDependency, match="not \\(yet\\) known as a member"):
        journal.add(outsider)
    impostor = attest_fact(
        Fact.create(ContactProfile(bob.authority, "evil"), stamp), namespace, carol.signer
    )
    with pytest.raises(AttestationInvalid, match="must be signed with its key"):
        journal.add(impostor)
    assert alice.book.contact(context).chosen_name is None


def test_hostile_fact_bytes_only_raise_aura_errors(alice, bob) -> None:
    acceptance = bob.book.accept(alice.book.create().code())
    encoded = acceptance.fact.encode()
    for cut in (0, 1, 10, len(encoded) // 2, len(encoded) - 1):
        with pytest.raises(AuraError):
            alice.book.admit_acceptance(encoded[:cut])
    with pytest.raises(InvalidInput):
        alice.book.admit_acceptance(alice.book.journal.facts_of_type("invitation.issued")[0])
    assert not alice.book.relationships


def test_every_invitation_kind_round_trips(alice, bob) -> None:
    for kind in InviteKind:
        signed = alice.book.create(kind)
        parsed = SignedInvite.parse(signed.code())
        assert parsed.invite.kind is kind
    acceptance = bob.book.accept(alice.book.create(InviteKind.GUARDIAN).code())
    context = alice.book.admit_acceptance(acceptance.fact)
    assert alice.book.contact(context).kind is InviteKind.GUARDIAN


def test_operation_categories_are_declared() -> None:
    assert set(invitation.OPERATION_CATEGORIES.values()) <= {"A", "B", "C"}
    assert invitation.OPERATION_CATEGORIES["invitation.accept_contact"] == "B"
    assert invitation.OPERATION_CATEGORIES["invitation.accept_device"] == "C"


def test_invalid_inputs_to_invite_are_refused() -> None:
    with pytest.raises(InvalidInput):
        Invite(
            InviteKind.CONTACT,
            AuthorityId(b"\x01" * 16),
            b"\x00" * 32,
            b"\x02" * 32,
            b"\x03" * 16,
            5,
        )
    with pytest.raises(InvalidEncoding):
        Invite.from_canonical([1, 2, 3])


@pytest.mark.parametrize("name", ["invitation", "social", "rendezvous"])
def test_public_api_exports(name: str) -> None:
    import importlib

    import aura_features

    module = importlib.import_module(f"aura_features.{name}")
    assert name in aura_features.__all__
    assert len(set(module.__all__)) == len(module.__all__)
    for export in module.__all__:
        assert getattr(module, export) is not None, export
    assert set(module.OPERATION_CATEGORIES.values()) <= {"A", "B", "C"}
    assert "OPERATION_CATEGORIES" in module.__all__

"""Test parties for the feature tests: an authority with a key, journals, and controllable time."""

from __future__ import annotations

import os

import attrs

from aura_core.identifiers import AuthorityId
from aura_effects import RandomOrderClock, SodiumCrypto, SystemRandom
from aura_features.ed25519_signer import KeySigner
from aura_features.invitation import InvitationBook, register_invitations
from aura_features.rendezvous import register_rendezvous
from aura_features.social import register_social
from aura_journal import Journal, JournalNamespace, default_registry
from aura_journal.fact_registry import FactRegistry
from aura_testkit import ManualClock


def feature_registry() -> FactRegistry:
    return register_social(register_rendezvous(register_invitations(default_registry())))


@attrs.define
class Party:
    """One authority (1-of-1 key) with its invitation book, sharing a clock with the others."""

    name: str
    authority: AuthorityId
    root_key: bytes
    signer: KeySigner
    book: InvitationBook
    clock: ManualClock

    @property
    def crypto(self) -> SodiumCrypto:
        return SodiumCrypto(SystemRandom())


def make_party(name: str, clock: ManualClock, registry: FactRegistry | None = None) -> Party:
    registry = registry if registry is not None else feature_registry()
    authority = AuthorityId(os.urandom(16))
    signer = KeySigner(os.urandom(32))
    random = SystemRandom()
    journal = Journal(JournalNamespace.authority(authority), registry)
    book = InvitationBook(
        authority,
        signer,
        journal,
        random=random,
        time=clock,
        order_clock=RandomOrderClock(random),
    )
    return Party(name, authority, os.urandom(32), signer, book, clock)

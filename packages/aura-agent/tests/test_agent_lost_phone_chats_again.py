"""A phone is lost, two of three guardians restore the account, and it chats again.

Every agent runs as the CLI runs it: its own data directory, no transport, a
loopback relay the only way between them. Alice's phone holds a 1-of-1
account; Bob is her contact; Bob, Carol and Dave are her guardians (2 of 3).
The phone is lost; a new phone asks the guardians, Bob and Carol approve,
and the new phone gets a share of the same key — so the same data key, the
same contact key and the same per-context keys — and its contacts back from
the guardians' sealed copy. It then chats with Bob under the same
``AuthorityId``; Bob did nothing to re-verify her.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import anyio
import pytest

from aura_agent import Agent, AgentConfig, HostSecret
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.custody_feature import got_account_by_recovery
from aura_agent.data_key_feature import DATA_KEY_FEATURE, data_key_feature
from aura_agent.vault_feature import VAULT_FEATURE, vault_feature
from aura_core.dag_cbor import encode
from aura_core.errors import CryptoError, InvalidEncoding, NotFound, ValidationError
from aura_testkit import loopback_relay

pytestmark = pytest.mark.anyio

KEY = HostSecret.from_key(os.urandom(32))


def _features():
    loaded = [make() for make in BUILTIN_FEATURES]
    names = {f.name for f in loaded}
    extra = [make() for make in (data_key_feature, vault_feature)]
    return loaded + [f for f in extra if f.name not in names]


def _agent(tmp_path, name, relays):
    config = AgentConfig(
        data_dir=tmp_path / name,
        relays=relays,
        relay_poll_s=0.05,
        sync_interval_s=0.3,
        signal_batch_s=0.0,
    )
    return Agent(config, KEY, features=_features())


async def _until(predicate, what, timeout=30.0):
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(0.03)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout} s") from None


def _said(agent, other):
    lines = agent.query("chat.history", **{"with": str(other)})
    return [line.text for line in lines]


def _reachable(agent, count=1):
    contacts = agent.query("contacts.list")
    return len(contacts) == count and all(c.reachable for c in contacts)


async def test_a_lost_phone_is_restored_by_guardians_and_chats_again(tmp_path):
    async with loopback_relay(tmp_path) as relays, AsyncExitStack() as stack:
        bob, carol, dave = [
            await stack.enter_async_context(_agent(tmp_path, name, relays))
            for name in ("bob", "carol", "dave")
        ]
        for friend in (bob, carol, dave):
            await friend.create_account()
        async with _agent(tmp_path, "phone", relays) as phone:
            record = await phone.run("devices.create_account")
            code = await phone.run("contacts.invite", nickname="Alice")
            await bob.run("contacts.accept", code=code, nickname="Bob")
            await _until(lambda: _reachable(phone) and _reachable(bob), "Alice ↔ Bob")
            await phone.run("chat.send_message", to=str(bob.authority), text="hi Bob")
            await _until(lambda: "hi Bob" in _said(bob, phone.authority), "Alice → Bob")
            await bob.run("chat.send_message", to=str(phone.authority), text="hi Alice")
            await _until(lambda: "hi Alice" in _said(phone, bob.authority), "Bob → Alice")

            guardians = [str(g.authority) for g in (bob, carol, dave)]
            await phone.run(
                "recovery.set_guardians", guardians=guardians, threshold=2, dispute_window_s=1
            )
            for guardian in (bob, carol, dave):
                await _until(
                    lambda g=guardian: g.query("recovery.status")["invitations"],
                    "a guardian invitation",
                )
                ((invitation, _account),) = guardian.query("recovery.status")["invitations"]
                await guardian.run("recovery.accept", invitation=invitation)
            await _until(
                lambda: len(phone.query("recovery.status").get("guardians", ())) == 3,
                "three guardians seated",
            )
            # The phone leaves its sealed contacts copy with every guardian.
            await _until(
                lambda: len(phone.query("vault.status")["acknowledged"]) == 3,
                "the contacts copy reaching the guardians",
            )
            contact_key = phone.node.account_signer().public_key
            assert not got_account_by_recovery(phone.node.storage)
        # The phone is lost. A new phone asks the guardians; Bob and Carol approve.
        async with _agent(tmp_path, "new-phone", relays) as new_phone:
            recovery = await new_phone.run(
                "recovery.start", authority=str(record.authority), guardians=guardians, kept=[]
            )
            for guardian in (bob, carol):
                await _until(
                    lambda g=guardian: g.query("recovery.status")["requests"], "the request"
                )
                await guardian.run("recovery.approve", recovery=recovery)
            await _until(lambda: new_phone.authority == record.authority, "the recovery", 60.0)
            assert new_phone.account.group_public_key == record.group_public_key
            assert got_account_by_recovery(new_phone.node.storage)
            # Same data key, so the same contact key: Bob's view of Alice is unchanged.
            await _until(lambda: DATA_KEY_FEATURE in new_phone.node.services, "the data key")
            assert new_phone.node.account_signer().public_key == contact_key
            await _until(lambda: new_phone.query("vault.status")["restored"], "the restore")
            await _until(lambda: _reachable(new_phone), "Bob reachable from the new phone")
            await _until(
                lambda: {"hi Bob", "hi Alice"} <= set(_said(new_phone, bob.authority)),
                "the chat history coming back from Bob",
            )
            await new_phone.run(
                "chat.send_message", to=str(bob.authority), text="new phone, same me"
            )
            await _until(
                lambda: "new phone, same me" in _said(bob, record.authority),
                "the message from the restored phone",
            )
            (alice,) = bob.query("contacts.list")
            assert alice.authority == record.authority and alice.nickname == "Alice"
            await bob.run("chat.send_message", to=str(record.authority), text="welcome back")
            await _until(lambda: "welcome back" in _said(new_phone, bob.authority), "Bob's answer")

            # Hostile vault traffic is refused by name and changes nothing.
            vault = bob.node.services[VAULT_FEATURE]
            with pytest.raises(InvalidEncoding):
                vault.receive("x", b"\x01", 0.0)
            stranger = os.urandom(16)
            with pytest.raises(NotFound, match="not a guardian"):
                vault.receive(
                    "x",
                    encode(
                        {
                            "v": 1,
                            "op": "get",
                            "acct": stranger,
                            "nonce": bytes(16),
                            "sig": bytes(64),
                        }
                    ),
                    0.0,
                )
            with pytest.raises(CryptoError, match="not signed by its contact key"):
                vault.receive(
                    "x",
                    encode(
                        {
                            "v": 1,
                            "op": "get",
                            "acct": record.authority.raw,
                            "nonce": bytes(16),
                            "sig": bytes(64),
                        }
                    ),
                    0.0,
                )
            restored = new_phone.node.services[VAULT_FEATURE]
            with pytest.raises(ValidationError, match="not a guardian"):
                restored.receive(
                    "x",
                    encode(
                        {
                            "v": 1,
                            "op": "blob",
                            "acct": record.authority.raw,
                            "ver": 9,
                            "blob": b"x" * 64,
                            "by": stranger,
                        }
                    ),
                    0.0,
                )

        # Restarted, the recovered phone keeps what it restored (and does not restore again).
        async with _agent(tmp_path, "new-phone", relays) as again:
            assert got_account_by_recovery(again.node.storage)
            await _until(lambda: _reachable(again), "Bob reachable after a restart")
            await again.run("chat.send_message", to=str(bob.authority), text="still me")
            await _until(lambda: "still me" in _said(bob, record.authority), "after a restart")
            assert again.query("vault.status")["restored"] == []  # nothing restored twice


async def test_a_device_without_contacts_never_leaves_an_empty_copy(tmp_path):
    """Regression: a freshly recovered phone has no contacts until it restored them; had it
    offered its (empty) contacts copy first, it would have replaced the lost phone's."""
    async with (
        loopback_relay(tmp_path) as relays,
        _agent(tmp_path, "bob", relays) as bob,
        _agent(tmp_path, "carol", relays) as carol,
        _agent(tmp_path, "phone", relays) as phone,
    ):
        for friend in (bob, carol):
            await friend.create_account()
        record = await phone.run("devices.create_account")
        await phone.run(
            "recovery.set_guardians",
            guardians=[str(bob.authority), str(carol.authority)],
            threshold=2,
            dispute_window_s=1,
        )
        for guardian in (bob, carol):
            await _until(lambda g=guardian: g.query("recovery.status")["invitations"], "invitation")
            ((invitation, _account),) = guardian.query("recovery.status")["invitations"]
            await guardian.run("recovery.accept", invitation=invitation)
        await _until(
            lambda: len(phone.query("recovery.status").get("guardians", ())) == 2, "seated"
        )
        vault = phone.node.services[VAULT_FEATURE]
        for _ in range(3):  # several offering rounds pass
            vault.on_timer(phone.node.now + 10.0)
            vault._next = phone.node.now
        await anyio.sleep(1.0)
        assert phone.query("vault.status")["acknowledged"] == {}
        for guardian in (bob, carol):
            assert guardian.node.services[VAULT_FEATURE]._stored(record.authority) is None

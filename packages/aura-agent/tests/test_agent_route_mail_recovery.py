"""Devices and guardians through a real relay only: route mailboxes, restarts, a recovery.

Every agent runs without a transport, as the ``aura`` CLI and its daemon do:
the only way a custody or recovery frame gets from one agent to another is a
sealed envelope in a route mailbox on a loopback relay.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import anyio
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aura_agent import Agent, AgentConfig, HostSecret
from aura_agent.account_cosigning import COSIGN_PREFIX, statement_message
from aura_agent.agent_frame import ServiceFrame, SyncFrame, encode_frame
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_agent.relay_mail import MailboxWatch
from aura_agent.route_mail import (
    RouteMailbox,
    open_route_frame,
    open_route_mail,
    route_kind,
    route_watch,
    seal_route_mail,
)
from aura_core import dag_cbor
from aura_core.crypto.ed25519 import verify_signature
from aura_core.errors import AuraError, CryptoError, InvalidEncoding, InvalidInput, ValidationError
from aura_core.identifiers import AuthorityId, ContextId, DeviceId
from aura_effects import SodiumCrypto, SystemRandom
from aura_features.rendezvous import RelayHint, SealedEnvelope
from aura_journal import JournalNamespace
from aura_testkit import loopback_relay

pytestmark = pytest.mark.anyio

KEY = HostSecret.from_key(os.urandom(32))
CRYPTO = SodiumCrypto(SystemRandom())
DEVICE = str(DeviceId(bytes(range(16))))
GUARDIAN = str(AuthorityId(bytes(range(16, 32))))
RELAYS = (RelayHint("tcp://127.0.0.1:1", bytes(32)),)
# Contacts and chat wait for the account's data key (another feature's work); this
# test is about custody and recovery, so its agents run without them.
_WITHOUT = {"contacts", "chat"}


# --------------------------------------------------------------------------- route mail


def test_route_kind_names_only_canonical_ids():
    assert route_kind(DEVICE) == "device"
    assert route_kind(GUARDIAN) == "authority"
    assert route_kind(DEVICE.upper()) is None
    assert route_kind(DEVICE.removeprefix("device-")) is None  # a bare UUID is ambiguous
    assert route_kind("relay:" + DEVICE) is None
    assert route_kind(b"device") is None


@settings(max_examples=60)
@given(st.text(max_size=80))
@example("device-")
@example("authority-00000000-0000-0000-0000-00000000000g")
def test_route_kind_never_raises(text):
    assert route_kind(text) in (None, "device", "authority")


def test_a_sealed_frame_opens_only_at_its_route():
    frame = encode_frame(ServiceFrame("devices", b"hello"))
    deposit = seal_route_mail(CRYPTO, route=GUARDIAN, source=DEVICE, frame=frame, relays=RELAYS)
    mailbox = RouteMailbox.of(GUARDIAN)
    assert deposit.relays == RELAYS and deposit.envelope.tag == mailbox.key.tag
    letter = open_route_mail(CRYPTO, mailbox, deposit.envelope)
    assert (letter.source, letter.frame) == (DEVICE, frame)
    assert len(deposit.envelope.ciphertext) >= 256  # padded to a size bucket
    # Another route's mailbox has another tag; a retagged envelope does not open.
    other = RouteMailbox.of(DEVICE)
    with pytest.raises(InvalidInput, match="another mailbox"):
        open_route_mail(CRYPTO, other, deposit.envelope)
    retagged = SealedEnvelope(other.key.tag, deposit.envelope.ciphertext)
    with pytest.raises(CryptoError):
        open_route_mail(CRYPTO, other, retagged)
    flipped = bytearray(deposit.envelope.ciphertext)
    flipped[-1] ^= 1
    with pytest.raises(CryptoError):
        open_route_mail(CRYPTO, mailbox, SealedEnvelope(mailbox.key.tag, bytes(flipped)))


@settings(max_examples=40, deadline=None)
@given(
    frame=st.binary(max_size=4096),
    to=st.binary(min_size=16, max_size=16),
    source=st.binary(min_size=16, max_size=16),
    to_device=st.booleans(),
)
def test_what_is_sealed_to_a_route_opens_there_unchanged(frame, to, source, to_device):
    route = str(DeviceId(to) if to_device else AuthorityId(to))
    sender = str(DeviceId(source))
    deposit = seal_route_mail(CRYPTO, route=route, source=sender, frame=frame, relays=RELAYS)
    letter = open_route_mail(CRYPTO, RouteMailbox.of(route), deposit.envelope)
    assert (letter.source, letter.frame) == (sender, frame)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
@example(b"")
def test_hostile_ciphertext_raises_only_aura_errors(ciphertext):
    mailbox = RouteMailbox.of(DEVICE)
    try:
        envelope = SealedEnvelope(mailbox.key.tag, ciphertext)
    except AuraError:
        return
    with pytest.raises(AuraError):
        open_route_mail(CRYPTO, mailbox, envelope)


def test_route_mail_refuses_what_is_not_a_route():
    with pytest.raises(InvalidInput):
        RouteMailbox.of("relay:somewhere")
    with pytest.raises(InvalidInput):
        seal_route_mail(CRYPTO, route=GUARDIAN, source="nobody", frame=b"x", relays=RELAYS)
    with pytest.raises(InvalidInput):
        seal_route_mail(CRYPTO, route=GUARDIAN, source=DEVICE, frame=b"x", relays=())


def _sealed(mailbox, body):
    tag = mailbox.key.tag
    return SealedEnvelope(tag, CRYPTO.seal(mailbox.seal_public, body, tag.raw))


@pytest.mark.parametrize(
    "body",
    [
        b"\xff not cbor",
        encode_frame(ServiceFrame("devices", b"x")),  # a frame, not a route mail map
    ],
)
def test_garbage_inside_a_valid_seal_is_refused(body):
    mailbox = RouteMailbox.of(DEVICE)
    with pytest.raises(InvalidEncoding):
        open_route_mail(CRYPTO, mailbox, _sealed(mailbox, body))


def test_a_letter_for_another_route_or_with_a_bad_sender_is_refused():
    mailbox = RouteMailbox.of(DEVICE)
    base = {"v": 1, "to": DEVICE, "from": GUARDIAN, "frame": b"f", "pad": b""}
    for change, message in (
        ({"to": GUARDIAN}, "another route"),
        ({"from": "relay:x"}, "sender"),
        ({"pad": b"\x01"}, "padding"),
        ({"v": 2}, "version"),
    ):
        body = dag_cbor.encode({**base, **change})
        with pytest.raises(InvalidEncoding, match=message):
            open_route_mail(CRYPTO, mailbox, _sealed(mailbox, body))


def test_a_route_mailbox_takes_only_the_owners_service_frames():
    watch = route_watch("recovery", GUARDIAN, RELAYS)
    namespace = JournalNamespace.context(ContextId(bytes(16)))
    for frame in (
        encode_frame(ServiceFrame("devices", b"x")),
        encode_frame(SyncFrame(namespace, b"sync")),
    ):
        deposit = seal_route_mail(CRYPTO, route=GUARDIAN, source=DEVICE, frame=frame, relays=RELAYS)
        with pytest.raises(ValidationError, match="takes only recovery"):
            open_route_frame(CRYPTO, watch, deposit.envelope, frozenset({"recovery"}))
    foreign = MailboxWatch("recovery", watch.key, RELAYS, label=("context", None))
    with pytest.raises(InvalidInput):
        open_route_frame(CRYPTO, foreign, deposit.envelope, frozenset({"recovery"}))


# --------------------------------------------------------------------------- live agents


def _agent(tmp_path, name, relays):
    config = AgentConfig(
        data_dir=tmp_path / name,
        relays=relays,
        relay_poll_s=0.05,
        sync_interval_s=0.5,
        signal_batch_s=0.0,
    )
    features = [f for f in (make() for make in BUILTIN_FEATURES) if f.name not in _WITHOUT]
    return Agent(config, KEY, features=features)


async def _until(predicate, what, timeout=30.0):
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(0.03)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout} s") from None


def _seated(agent, count):
    return len(agent.query("recovery.status").get("guardians", ())) == count


async def _accept_invitation(guardian, account):
    await _until(lambda: guardian.query("recovery.status")["invitations"], "the invitation")
    ((invitation, inviter),) = guardian.query("recovery.status")["invitations"]
    assert inviter == str(account)
    await guardian.run("recovery.accept", invitation=invitation)


async def test_two_of_three_guardians_and_a_recovery_through_a_relay_only(tmp_path):
    async with loopback_relay(tmp_path) as relays:
        async with AsyncExitStack() as stack:
            agents = {}
            for name in ("bob", "carol", "phone", "laptop", "tablet"):
                agents[name] = await stack.enter_async_context(_agent(tmp_path, name, relays))
            bob, carol = agents["bob"], agents["carol"]
            phone, laptop, tablet = agents["phone"], agents["laptop"], agents["tablet"]
            await bob.create_account()
            await carol.create_account()
            record = await phone.run("devices.create_account")
            for newcomer in (laptop, tablet):
                await phone.run("devices.add", device=str(newcomer.device))
                await newcomer.run(
                    "devices.join", authority=str(record.authority), sponsor=str(phone.device)
                )
                await _until(lambda n=newcomer: n.authority == record.authority, "enrollment")
            for device in (phone, laptop, tablet):
                await _until(lambda d=device: d.query("devices.status")["threshold"] == 2, "2-of-3")
            # A statement signed by the account key: two of the three devices take part.
            request = await laptop.run("devices.sign", message="Alice's statement")
            await _until(
                lambda: laptop.query("devices.signature", request=request) is not None,
                "a 2-of-3 signature",
            )
            signature = bytes.fromhex(laptop.query("devices.signature", request=request))
            statement = statement_message(b"Alice's statement")
            assert verify_signature(record.group_public_key, statement, signature)
            assert not verify_signature(record.group_public_key, b"Alice's statement", signature)
            # Siblings refuse cosigning asks from strangers and malformed ones from siblings.
            refused = tablet.status().frames_refused
            stranger = str(DeviceId(os.urandom(16)))
            for source, message in (
                (stranger, {"t": "say", "id": bytes(16), "text": b"x"}),
                (str(phone.device), {"t": "ask", "id": bytes(16), "invite": b"garbage"}),
                (str(phone.device), {"t": "sign-anything", "id": bytes(16), "m": b"x"}),
                (str(phone.device), {"t": "package", "id": bytes(16), "p": b"\xa0"}),
            ):
                body = COSIGN_PREFIX + dag_cbor.encode(message)
                tablet.node.deliver(
                    source, encode_frame(ServiceFrame("devices", body)), tablet.node.now
                )
            assert tablet.status().frames_refused == refused + 4
            # The phone names Bob and Carol; the invitations are signed by 2 of the 3
            # devices (FROST) since no device holds the account key alone.
            planned = await phone.run(
                "recovery.set_guardians",
                guardians=[str(bob.authority), str(carol.authority)],
                threshold=2,
                dispute_window_s=1,
            )
            assert set(planned["invited"]) == {str(bob.authority), str(carol.authority)}
            assert not planned["proposed"]
            await _until(
                lambda: all(g.query("recovery.status")["invitations"] for g in (bob, carol)),
                "both invitations reaching the guardians",
            )
            # The phone's agent stops before the guardians answer: the plan and the
            # invitations it sent survive in its storage; the answers wait at the relay.
            kept = [d.query("devices.status")["identifier"] for d in (laptop, tablet)]
            await stack.aclose()

        async with AsyncExitStack() as stack:
            bob = await stack.enter_async_context(_agent(tmp_path, "bob", relays))
            carol = await stack.enter_async_context(_agent(tmp_path, "carol", relays))
            laptop = await stack.enter_async_context(_agent(tmp_path, "laptop", relays))
            tablet = await stack.enter_async_context(_agent(tmp_path, "tablet", relays))
            # Restarted guardians still hold the invitations waiting for their answer.
            for guardian in (bob, carol):
                await _accept_invitation(guardian, record.authority)
            phone = await stack.enter_async_context(_agent(tmp_path, "phone", relays))
            for device in (phone, laptop, tablet):
                await _until(lambda d=device: _seated(d, 2), "Bob and Carol being seated")
            assert phone.query("recovery.status")["guardian_threshold"] == 2
            for guardian in (bob, carol):
                await _until(
                    lambda g=guardian: (
                        g.query("recovery.status")["wards"] == (str(record.authority),)
                    ),
                    "a guardian share",
                )
            await stack.aclose()  # every agent stops; the phone is lost from here on

        async with AsyncExitStack() as stack:
            # Bob and Carol restart from storage: their wards and shares are still there.
            bob = await stack.enter_async_context(_agent(tmp_path, "bob", relays))
            carol = await stack.enter_async_context(_agent(tmp_path, "carol", relays))
            assert bob.query("recovery.status")["wards"] == (str(record.authority),)
            laptop = await stack.enter_async_context(_agent(tmp_path, "laptop", relays))
            tablet = await stack.enter_async_context(_agent(tmp_path, "tablet", relays))
            new_phone = await stack.enter_async_context(_agent(tmp_path, "new-phone", relays))
            # No group key given: the key the guardians vouch for is the one restored.
            recovery = await new_phone.run(
                "recovery.start",
                authority=str(record.authority),
                guardians=[str(bob.authority), str(carol.authority)],
                kept=kept,
            )
            for guardian in (bob, carol):
                await _until(lambda g=guardian: g.query("recovery.status")["requests"], "request")
                ((waiting, account, device),) = guardian.query("recovery.status")["requests"]
                assert (waiting, account, device) == (
                    recovery,
                    str(record.authority),
                    str(new_phone.device),
                )
                await guardian.run("recovery.approve", recovery=recovery)
            await _until(lambda: new_phone.authority == record.authority, "the recovery", 60.0)
            assert new_phone.account.group_public_key == record.group_public_key
            expected = {str(d.device) for d in (laptop, tablet, new_phone)}
            for device in (laptop, tablet, new_phone):
                await _until(
                    lambda d=device: (
                        {r for _i, r in d.query("devices.status")["devices"]} == expected
                    ),
                    "the new roster",
                )


async def test_garbage_in_a_route_mailbox_is_counted_not_fatal(tmp_path):
    async with loopback_relay(tmp_path) as relays, _agent(tmp_path, "bob", relays) as bob:
        await bob.create_account()
        route = str(bob.authority)
        mailbox = RouteMailbox.of(route)
        watch = next(w for w in bob.node.mailboxes() if w.owner == "recovery")
        assert watch.key == mailbox.key
        before = bob.status().frames_refused
        node = bob.node
        node.open_mail(watch, _sealed(mailbox, b"\x00garbage"), node.now)
        frame = encode_frame(ServiceFrame("devices", b"not for a guardian"))
        deposit = seal_route_mail(CRYPTO, route=route, source=DEVICE, frame=frame, relays=relays)
        node.open_mail(watch, deposit.envelope, node.now)
        frame = encode_frame(ServiceFrame("recovery", b"\xa0"))  # a guardian refuses it
        deposit = seal_route_mail(CRYPTO, route=route, source=DEVICE, frame=frame, relays=relays)
        node.open_mail(watch, deposit.envelope, node.now)
        assert bob.status().frames_refused == before + 2
        assert bob.query("recovery.status")["invitations"] == ()


async def test_a_device_agreed_to_before_a_restart_still_enrolls(tmp_path):
    async with loopback_relay(tmp_path) as relays:
        async with _agent(tmp_path, "phone", relays) as phone:
            record = await phone.run("devices.create_account")
            async with _agent(tmp_path, "laptop", relays) as laptop:
                laptop_device = laptop.device
            await phone.run("devices.add", device=str(laptop_device))
        # The phone's agent restarts; what the user agreed to is still there.
        async with (
            _agent(tmp_path, "phone", relays) as phone,
            _agent(tmp_path, "laptop", relays) as laptop,
        ):
            assert phone.node.services["devices"].expected == {str(laptop_device)}
            await laptop.run(
                "devices.join", authority=str(record.authority), sponsor=str(phone.device)
            )
            await _until(lambda: laptop.authority == record.authority, "the enrollment")
            assert phone.node.services["devices"].expected == set()
        async with _agent(tmp_path, "phone", relays) as phone:
            assert phone.node.services["devices"].expected == set()

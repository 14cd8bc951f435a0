"""Identifiers: printed forms, strict parsing, derivation."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aura_core import (
    AuthorityId,
    ChannelId,
    ContextId,
    DeviceId,
    Epoch,
    Hash32,
    HomeId,
    InvalidIdentifier,
    SessionId,
)

UUID_TYPES = [AuthorityId, ContextId, DeviceId, SessionId]
PREFIXES = {
    AuthorityId: "authority",
    ContextId: "context",
    DeviceId: "device",
    SessionId: "session",
}


@pytest.mark.parametrize("kind", UUID_TYPES)
@given(raw=st.binary(min_size=16, max_size=16))
def test_uuid_ids_print_and_parse_both_forms(kind, raw):
    ident = kind(raw)
    printed = str(ident)
    assert printed == f"{PREFIXES[kind]}-{uuid.UUID(bytes=raw)}"
    assert kind.parse(printed) == ident
    assert kind.parse(str(uuid.UUID(bytes=raw))) == ident
    assert kind.parse(printed.upper().replace(PREFIXES[kind].upper(), PREFIXES[kind])) == ident


def test_ids_of_different_kinds_never_compare_equal():
    raw = bytes(range(16))
    assert AuthorityId(raw) != ContextId(raw)
    assert len({AuthorityId(raw), ContextId(raw), DeviceId(raw)}) == 3


@pytest.mark.parametrize(
    "text",
    [
        "",
        "authority-",
        "authority-xyz",
        "context-00000000-0000-0000-0000-000000000000",
        "1234",
        "device:abc",
    ],
)
def test_authority_id_parse_errors_name_the_input(text):
    with pytest.raises(InvalidIdentifier) as info:
        AuthorityId.parse(text)
    assert "AuthorityId" in str(info.value)
    if text:
        assert repr(text)[:20] in str(info.value)


@pytest.mark.parametrize("bad", [b"", b"x" * 15, b"x" * 17, "x" * 16, 12])
def test_uuid_ids_reject_wrong_raw_values(bad):
    with pytest.raises(InvalidIdentifier):
        DeviceId(bad)


def test_parse_rejects_non_strings():
    with pytest.raises(InvalidIdentifier):
        AuthorityId.parse(b"authority-...")  # type: ignore[arg-type]


def test_derived_ids_are_deterministic_and_domain_separated():
    one = AuthorityId.derive("account", b"alice")
    assert one == AuthorityId.derive("account", b"alice")
    assert one != AuthorityId.derive("account", b"bob")
    assert one.raw != ContextId.derive("account", b"alice").raw
    # length framing: moving a byte between parts changes the id
    assert AuthorityId.derive("d", b"ab", b"c") != AuthorityId.derive("d", b"a", b"bc")


class _CountingRng:
    def __init__(self) -> None:
        self.counter = 0

    def random_bytes(self, n: int) -> bytes:
        self.counter += 1
        return bytes([self.counter]) * n


def test_generated_ids_are_version_4_and_use_the_injected_source():
    rng = _CountingRng()
    first, second = SessionId.generate(rng), SessionId.generate(rng)
    assert first != second
    assert first.uuid.version == 4
    assert rng.counter == 2


@given(raw=st.binary(min_size=32, max_size=32))
@example(raw=bytes(32))
def test_hash32_and_channel_ids_print_hex(raw):
    assert Hash32.parse(str(Hash32(raw))) == Hash32(raw)
    channel = ChannelId(raw)
    assert str(channel) == "channel:" + raw.hex()
    assert ChannelId.parse(str(channel)) == channel
    assert ChannelId.parse(raw.hex()) == channel
    assert HomeId(raw) != channel


@pytest.mark.parametrize(
    "text", ["", "channel:", "channel:zz" + "0" * 62, "0" * 63, "home:" + "0" * 64]
)
def test_channel_parse_errors(text):
    with pytest.raises(InvalidIdentifier) as info:
        ChannelId.parse(text)
    assert "ChannelId" in str(info.value)


def test_epoch_bounds_and_forms():
    assert str(Epoch(7)) == "epoch-7"
    assert Epoch.parse("epoch-7") == Epoch(7) == Epoch.parse("7")
    assert Epoch(1) < Epoch(2)
    assert Epoch(2**64 - 2).next() == Epoch(2**64 - 1)
    for bad in (-1, 2**64, 1.0, True, "3"):
        with pytest.raises(InvalidIdentifier):
            Epoch(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifier):
        Epoch(2**64 - 1).next()
    for bad_text in ("", "-1", "epoch-", "epoch-x", "٣"):
        with pytest.raises(InvalidIdentifier):
            Epoch.parse(bad_text)

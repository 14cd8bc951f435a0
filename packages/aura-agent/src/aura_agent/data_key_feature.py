"""How a device of a ``t``-of-``n`` account gets the account's data key: its siblings' help.

A device that holds a share of the account key but not the data key
(:mod:`aura_agent.account_keys`) — it just joined, or a recovery re-dealt
the shares — asks the account's other devices: it sends each one its own
threshold-derivation contribution, sealed to that device's encryption key
from the account's key epoch, with ``need`` set. A device that holds a
share of the same key epoch answers with its own contribution, sealed back.
Once ``t`` contributions (its own included) verify against the key epoch's
public key package, the device combines them, stores the data key and the
node starts contacts and chat.

Every contribution carries a Chaum–Pedersen proof against its holder's
verifying share, so a wrong or stale contribution (a share from before a
reshare) is refused, never combined. Contributions are sealed because ``t``
of them reveal the data key. The asking device repeats every
``RETRY_S`` seconds until it has the key, so a sibling that comes online
later, or a lost message, only delays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aura_agent.account_keys import data_key_label
from aura_agent.custody_feature import DEVICES_FEATURE
from aura_agent.feature import Feature, JournalReader
from aura_core.canonical_fields import decode_canonical, read_bool, read_bytes, read_map, read_uint
from aura_core.crypto import (
    DerivationShare,
    KeyPackage,
    combine_derivation,
    derivation_share,
    verify_derivation_share,
)
from aura_core.dag_cbor import encode
from aura_core.errors import AuraError, InvalidEncoding
from aura_effects import SodiumCrypto

if TYPE_CHECKING:
    from aura_agent.agent_node import AgentNode
    from aura_features.devices import KeyEpoch

__all__ = ["DATA_KEY_FEATURE", "RETRY_S", "DataKeyService", "data_key_feature"]

DATA_KEY_FEATURE = "datakey"
RETRY_S = 2.0
"""How often a device without the data key asks its siblings again."""
_VERSION = 1
_KEYS = frozenset({"v", "gk", "need", "to", "box"})
_AAD_DOMAIN = b"aura.agent.datakey.v1"
_MAX_BYTES = 1024


def _aad(group_key: bytes, recipient: int) -> bytes:
    return _AAD_DOMAIN + group_key + recipient.to_bytes(2, "big")


class DataKeyService:
    """One device's side of the data-key exchange (see the module docstring)."""

    def __init__(self, node: AgentNode) -> None:
        self.node = node
        self._crypto = SodiumCrypto(node.random)
        self._collected: dict[int, DerivationShare] = {}
        self._group_epoch: tuple[bytes, int] | None = None
        self._next_ask: float | None = None
        self.asked = 0
        """Rounds of asking so far (operations figure)."""
        self.refused = 0
        """Contributions refused (bad seal, bad proof, another key epoch)."""

    # ------------------------------------------------------------------ what this device holds

    def _holding(self) -> tuple[KeyPackage, KeyEpoch] | None:
        custody = self.node.services.get(DEVICES_FEATURE)
        manager = getattr(custody, "manager", None)
        if manager is None:
            return None
        package, epoch = manager.key_package, manager.key_epoch
        if package is None or epoch is None:
            return None
        if package.verifying_key != epoch.public_key_package.verifying_key:
            return None
        if not epoch.public_key_package.has(package.identifier):
            return None
        if epoch.public_key_package.verifying_share(package.identifier) != package.verifying_share:
            return None
        return package, epoch

    def _encryption_private(self) -> bytes:
        custody = self.node.services[DEVICES_FEATURE]
        return custody.manager.keys.encryption_private

    @property
    def waiting(self) -> bool:
        return self.node.account is not None and self.node.account_keys() is None

    # ------------------------------------------------------------------ the core's hooks

    def ready(self, now: float) -> None:
        if self.waiting:
            self._next_ask = now

    def next_timer(self) -> float | None:
        return self._next_ask if self.waiting else None

    def on_timer(self, now: float) -> None:
        if self._next_ask is None or now < self._next_ask or not self.waiting:
            return
        self._next_ask = now + RETRY_S
        holding = self._holding()
        if holding is None:
            return  # no share of a settled key epoch yet (a change still running)
        package, epoch = holding
        self._reset_if_new(epoch)
        own = derivation_share(package, data_key_label(epoch.account), self.node.random)
        self._collected[package.identifier] = own
        self.asked += 1
        for member in epoch.devices:
            if member.identifier != package.identifier:
                self._send(member.profile.address, epoch, member, own, need=True)
        self._try_combine(epoch, now)

    def receive(self, source: str, body: bytes, now: float) -> None:
        try:
            self._receive(source, body, now)
        except AuraError:
            self.refused += 1
            raise

    # ------------------------------------------------------------------ messages

    def _send(
        self, route: str, epoch: KeyEpoch, member: Any, share: DerivationShare, *, need: bool
    ) -> None:
        group_key = bytes(epoch.public_key_package.verifying_key)
        sealed = self._crypto.seal(
            member.profile.encryption_key, share.to_bytes(), _aad(group_key, member.identifier)
        )
        body = encode(
            {"v": _VERSION, "gk": group_key, "need": need, "to": member.identifier, "box": sealed}
        )
        self.node.send_service(DATA_KEY_FEATURE, route, body)

    def _receive(self, source: str, body: bytes, now: float) -> None:
        fields = read_map(
            decode_canonical(body, "data key message", max_bytes=_MAX_BYTES),
            "data key message",
            _KEYS,
        )
        if read_uint(fields["v"], "data key message version") != _VERSION:
            raise InvalidEncoding(f"unsupported data key message version {fields['v']}")
        group_key = read_bytes(fields["gk"], "data key group key", size=32)
        need = read_bool(fields["need"], "data key need flag")
        recipient = read_uint(fields["to"], "data key recipient", minimum=1, maximum=0xFFFF)
        sealed = read_bytes(fields["box"], "data key contribution", max_size=_MAX_BYTES)
        holding = self._holding()
        if holding is None:
            raise InvalidEncoding(
                "a data key contribution arrived before this device holds a share"
            )
        package, epoch = holding
        if group_key != bytes(epoch.public_key_package.verifying_key):
            raise InvalidEncoding("a data key contribution for another account key")
        if recipient != package.identifier:
            raise InvalidEncoding(
                f"a data key contribution for participant {recipient}, not this device"
            )
        opened = self._crypto.unseal(
            self._encryption_private(), sealed, _aad(group_key, package.identifier)
        )
        share = DerivationShare.from_bytes(opened)
        label = data_key_label(epoch.account)
        verify_derivation_share(epoch.public_key_package, label, share)
        own: DerivationShare | None = None
        if need:
            # Answer (never with ``need``: two waiting devices must not ping-pong).
            sender = next((m for m in epoch.devices if m.identifier == share.identifier), None)
            if sender is not None:
                own = derivation_share(package, label, self.node.random)
                self._send(source, epoch, sender, own, need=False)
        if self.waiting:
            self._reset_if_new(epoch)
            if package.identifier not in self._collected:
                mine = (
                    own if own is not None else derivation_share(package, label, self.node.random)
                )
                self._collected[package.identifier] = mine
            self._collected[share.identifier] = share
            self._try_combine(epoch, now)

    def _reset_if_new(self, epoch: KeyEpoch) -> None:
        marker = (bytes(epoch.public_key_package.verifying_key), epoch.epoch)
        if marker != self._group_epoch:
            self._group_epoch = marker
            self._collected.clear()

    def _try_combine(self, epoch: KeyEpoch, now: float) -> None:
        if len(self._collected) < epoch.public_key_package.min_signers:
            return
        key = combine_derivation(
            epoch.public_key_package, data_key_label(epoch.account), self._collected.values()
        )
        self._collected.clear()
        self._next_ask = None
        self.node.install_data_key(key, now)


def _status(reader: JournalReader, _args: Mapping[str, Any]) -> dict[str, Any]:
    service = reader.service(DATA_KEY_FEATURE)
    if service is None:
        return {"has_key": False, "asked": 0, "refused": 0}
    return {"has_key": not service.waiting, "asked": service.asked, "refused": service.refused}


def data_key_feature() -> Feature:
    return Feature(
        name=DATA_KEY_FEATURE,
        queries={"datakey.status": _status},
        service=DataKeyService,
        requires=(DEVICES_FEATURE,),
        description="The account's data key for devices of a threshold account (from siblings).",
    )

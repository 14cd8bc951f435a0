"""Guardians keep a sealed copy of the account's contacts, so a recovery restores them.

A guardian recovery gives a new device a share of the same key, hence the
same data key (:mod:`aura_agent.account_keys`) and so the same contact key
and per-context keys. What it does not give is the list of contacts: the
relational contexts, the contacts' descriptors (how to reach them). This
feature closes that gap:

* each device of an account with guardians seals its contacts backup
  (:meth:`ContactsService.backup`) under a key derived from the data key
  (XChaCha20-Poly1305) and leaves it with every guardian (``put``), again
  whenever it changes; a guardian learns the size and timing, not the contents;
* a guardian keeps the newest copy per ward, pinning the account's contact key
  the first time (the first ``put`` must also be signed by a device of the
  ward's guardian set, so a stranger cannot claim the slot);
* a device that a recovery gave the account (and that has no contacts and never
  restored) asks its guardians (``get``, signed by the contact key the guardian pinned) until one
  answers; the backup's facts pass every rule of their types on the way in,
  and anti-entropy with each contact then brings the rest of each context
  (chat history included).

A copy is at most ``MAX_BACKUP_BYTES`` (about a hundred contacts); beyond that
the device keeps what fits and says so in ``vault.status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import nacl.bindings as sodium
import nacl.exceptions

from aura_agent.custody_feature import (
    DEVICES_FEATURE,
    GUARDIAN_FEATURE,
    got_account_by_recovery,
)
from aura_agent.feature import Feature, JournalReader
from aura_core.canonical_fields import (
    decode_canonical,
    read_authority,
    read_bytes,
    read_choice,
    read_context,
    read_list,
    read_map,
    read_uint,
)
from aura_core.dag_cbor import encode
from aura_core.errors import AuraError, CryptoError, InvalidEncoding, NotFound, ValidationError
from aura_core.hashing import kdf, tagged_hash
from aura_core.identifiers import AuthorityId, ContextId
from aura_features.ed25519_signer import ed25519_valid
from aura_journal import Fact

if TYPE_CHECKING:
    from aura_agent.agent_node import AgentNode

__all__ = ["MAX_BACKUP_BYTES", "VAULT_FEATURE", "VaultService", "vault_feature"]

VAULT_FEATURE = "vault"
MAX_BACKUP_BYTES = 48 * 1024
_VERSION = 1
_TABLE = "agent_vault"
_STATE_TABLE = "agent_vault_state"
_RESTORED_KEY = b"restored"
_SEAL_KDF = "aura.agent.vault.seal.v1"
_SIGN_DOMAIN = "aura.agent.vault.message.v1"
_PERIOD_S = 2.0
_MAX_WARDS = 64
_MAX_MESSAGE = MAX_BACKUP_BYTES + 1024
_OPS = ("put", "ack", "get", "blob")
_KEYS = {
    "put": frozenset({"v", "op", "acct", "ver", "blob", "key", "sig", "dev", "dsig"}),
    "ack": frozenset({"v", "op", "acct", "ver", "by"}),
    "get": frozenset({"v", "op", "acct", "nonce", "sig"}),
    "blob": frozenset({"v", "op", "acct", "ver", "blob", "by"}),
}


def _signed(*parts: bytes) -> bytes:
    return tagged_hash(_SIGN_DOMAIN, *parts)


def _seal_key(data_key: bytes, account: AuthorityId) -> bytes:
    return kdf(_SEAL_KDF, data_key + account.raw, 32)


def _encode_backup(contexts: Mapping[ContextId, list[Fact]]) -> bytes:
    return encode(
        {
            "v": _VERSION,
            "contexts": [[c.raw, [f.encode() for f in facts]] for c, facts in contexts.items()],
        }
    )


def _decode_backup(data: bytes) -> dict[ContextId, list[Fact]]:
    fields = read_map(
        decode_canonical(data, "contacts backup", max_bytes=MAX_BACKUP_BYTES),
        "contacts backup",
        frozenset({"v", "contexts"}),
    )
    if read_uint(fields["v"], "contacts backup version") != _VERSION:
        raise InvalidEncoding(f"unsupported contacts backup version {fields['v']}")
    out: dict[ContextId, list[Fact]] = {}
    for item in read_list(fields["contexts"], "contacts backup contexts", max_items=1024):
        pair = read_list(item, "contacts backup entry", min_items=2, max_items=2)
        context = read_context(pair[0], "contacts backup context")
        facts = read_list(pair[1], "contacts backup facts", max_items=256)
        out[context] = [
            Fact.decode(read_bytes(f, "contacts backup fact", max_size=8192)) for f in facts
        ]
    return out


class VaultService:
    """Both sides of the vault: an account's devices and the guardians they trust."""

    def __init__(self, node: AgentNode) -> None:
        self.node = node
        self._acked: dict[AuthorityId, int] = {}
        """Guardian → the newest version it confirmed."""
        self._version = 0
        self._digest: bytes | None = None
        self._blob: bytes | None = None
        self._next: float | None = None
        self.truncated = False
        self.asked = 0
        self.refused = 0
        self.restored: list[ContextId] = []
        self._empty: set[AuthorityId] = set()
        """Guardians that answered they keep no copy."""

    # ------------------------------------------------------------------ what this device knows

    def _guardians(self) -> tuple[AuthorityId, ...]:
        manager = getattr(self.node.services.get(DEVICES_FEATURE), "manager", None)
        guardian_set = None if manager is None else manager.guardian_set
        if guardian_set is None:
            return ()
        return tuple(m.profile.authority for m in guardian_set.guardians)

    def _contacts(self) -> Any:
        return self.node.services.get("contacts")

    def _was_restored(self) -> bool:
        with self.node.storage.transaction(readonly=True) as txn:
            return txn.get(_STATE_TABLE, _RESTORED_KEY) is not None

    def _recovered(self) -> bool:
        """Whether this device got its account through a guardian recovery."""
        return got_account_by_recovery(self.node.storage)

    def _needs_restore(self) -> bool:
        # Only a recovered device restores: it takes over the lost device's contexts. A
        # device that joined alongside a live one does not, since two devices sending in
        # one context would share one AMP sending chain (see docs/account-keys.md).
        contacts = self._contacts()
        if contacts is None or contacts.book is None or contacts.book.relationships:
            return False
        return self._recovered() and not self._was_restored()

    # ------------------------------------------------------------------ the core's hooks

    def ready(self, now: float) -> None:
        self._next = now

    def next_timer(self) -> float | None:
        return self._next

    def on_timer(self, now: float) -> None:
        if self._next is None or now < self._next:
            return
        self._next = now + _PERIOD_S
        guardians = self._guardians()
        if not guardians:
            return
        keys = self.node.account_keys()
        if keys is None:
            return
        if self._needs_restore():
            self._ask(guardians, keys)
            return
        self._offer(guardians, keys, now)

    def on_facts(self, _namespace: Any, _facts: Any, now: float) -> None:
        if self._next is None or self._next > now + 0.5:
            self._next = now + 0.5  # a new contact: offer a fresh copy soon

    def _ask(self, guardians: tuple[AuthorityId, ...], keys: Any) -> None:
        account = keys.authority
        signer = keys.contact_signer()
        self.asked += 1
        for guardian in guardians:
            nonce = self.node.random.random_bytes(16)
            body = {
                "v": _VERSION,
                "op": "get",
                "acct": account.raw,
                "nonce": nonce,
                "sig": signer.sign(_signed(b"get", account.raw, nonce, str(guardian).encode())),
            }
            self.node.send_service(VAULT_FEATURE, str(guardian), encode(body))

    def _offer(self, guardians: tuple[AuthorityId, ...], keys: Any, now: float) -> None:
        contacts = self._contacts()
        if contacts is None or contacts.book is None:
            return
        backup = contacts.backup()
        if not backup:
            # Nothing to keep, and an empty copy must never replace one a lost device left
            # (a recovered device has no contacts until it restored them).
            return
        plain = _encode_backup(backup)
        while len(plain) > MAX_BACKUP_BYTES - 64 and backup:
            backup.popitem()
            self.truncated = True
            plain = _encode_backup(backup)
        digest = tagged_hash(_SIGN_DOMAIN, plain)
        if digest != self._digest:
            self._digest = digest
            self._version = max(self._version + 1, self.node.time.now().ts_ms)
            nonce = self.node.random.random_bytes(24)
            account = keys.authority
            sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
                plain, account.raw, nonce, _seal_key(keys.data_key, account)
            )
            self._blob = nonce + sealed
        assert self._blob is not None
        for guardian in guardians:
            if self._acked.get(guardian, -1) < self._version:
                self._put(guardian, keys)

    def _put(self, guardian: AuthorityId, keys: Any) -> None:
        assert self._blob is not None
        account = keys.authority
        signer = keys.contact_signer()
        version = self._version.to_bytes(8, "big")
        message = _signed(b"put", account.raw, version, self._blob)
        device = self.node.identity.signer(account)
        body = {
            "v": _VERSION,
            "op": "put",
            "acct": account.raw,
            "ver": self._version,
            "blob": self._blob,
            "key": signer.public_key,
            "sig": signer.sign(message),
            "dev": bytes(device.signing_key.verify_key),
            "dsig": device.signing_key.sign(message).signature,
        }
        self.node.send_service(VAULT_FEATURE, str(guardian), encode(body))

    # ------------------------------------------------------------------ receiving

    def receive(self, source: str, body: bytes, now: float) -> None:
        try:
            self._receive(source, body, now)
        except AuraError:
            self.refused += 1
            raise

    def _receive(self, source: str, body: bytes, now: float) -> None:
        raw = decode_canonical(body, "vault message", max_bytes=_MAX_MESSAGE)
        if not isinstance(raw, dict):
            raise InvalidEncoding("a vault message must be a map")
        op = read_choice(raw.get("op"), "vault message op", _OPS)
        fields = read_map(raw, f"vault {op} message", _KEYS[op])
        if read_uint(fields["v"], "vault message version") != _VERSION:
            raise InvalidEncoding(f"unsupported vault message version {fields['v']}")
        account = read_authority(fields["acct"], "vault account")
        if op == "put":
            self._on_put(source, account, fields)
        elif op == "get":
            self._on_get(source, account, fields)
        elif op == "ack":
            self._on_ack(source, account, fields)
        else:
            self._on_blob(account, fields, now)

    # -- the guardian's side

    def _guardian_set(self, account: AuthorityId) -> Any:
        guardian = getattr(self.node.services.get(GUARDIAN_FEATURE), "agent", None)
        if guardian is None or account not in guardian.accounts:
            raise NotFound(f"this agent is not a guardian of {account}")
        return guardian.guardian_set_for(account)

    def _stored(self, account: AuthorityId) -> dict[str, Any] | None:
        with self.node.storage.transaction(readonly=True) as txn:
            raw = txn.get(_TABLE, account.raw)
        if raw is None:
            return None
        return read_map(
            decode_canonical(raw, "stored vault copy", max_bytes=_MAX_MESSAGE),
            "stored vault copy",
            frozenset({"ver", "key", "blob"}),
        )

    def _on_put(self, source: str, account: AuthorityId, fields: dict[str, Any]) -> None:
        guardian_set = self._guardian_set(account)
        version = read_uint(fields["ver"], "vault version")
        blob = read_bytes(fields["blob"], "vault copy", max_size=MAX_BACKUP_BYTES + 64)
        key = read_bytes(fields["key"], "vault contact key", size=32)
        signature = read_bytes(fields["sig"], "vault signature", size=64)
        message = _signed(b"put", account.raw, version.to_bytes(8, "big"), blob)
        if not ed25519_valid(key, message, signature):
            raise CryptoError(
                f"a vault copy for {account} carries a signature that does not verify"
            )
        stored = self._stored(account)
        if stored is None:
            device = read_bytes(fields["dev"], "vault device key", size=32)
            device_signature = read_bytes(fields["dsig"], "vault device signature", size=64)
            roster = (
                set()
                if guardian_set is None
                else {d.profile.leaf_key for d in guardian_set.devices}
            )
            if device not in roster or not ed25519_valid(device, message, device_signature):
                raise ValidationError(
                    f"the first vault copy for {account} must come from one of its devices"
                )
            with self.node.storage.transaction(readonly=True) as txn:
                wards = len(txn.scan(_TABLE))
            if wards >= _MAX_WARDS:
                raise ValidationError("this guardian keeps no more vault copies")
        elif stored["key"] != key:
            raise ValidationError(f"a vault copy for {account} is signed by another contact key")
        if stored is None or version > stored["ver"]:
            with self.node.storage.transaction() as txn:
                txn.put(_TABLE, account.raw, encode({"ver": version, "key": key, "blob": blob}))
        me = self.node.require_account().authority
        ack = {"v": _VERSION, "op": "ack", "acct": account.raw, "ver": version, "by": me.raw}
        self.node.send_service(VAULT_FEATURE, source, encode(ack))

    def _on_get(self, source: str, account: AuthorityId, fields: dict[str, Any]) -> None:
        self._guardian_set(account)
        nonce = read_bytes(fields["nonce"], "vault request nonce", size=16)
        signature = read_bytes(fields["sig"], "vault request signature", size=64)
        me = self.node.require_account().authority
        stored = self._stored(account)
        reply = {"v": _VERSION, "op": "blob", "acct": account.raw, "by": me.raw}
        if stored is None:
            # Nothing kept yet: say so (an unsigned "none" only ends the asker's waiting).
            self.node.send_service(VAULT_FEATURE, source, encode({**reply, "ver": 0, "blob": b""}))
            return
        message = _signed(b"get", account.raw, nonce, str(me).encode())
        if not ed25519_valid(stored["key"], message, signature):
            raise CryptoError(f"a vault request for {account} is not signed by its contact key")
        reply.update(ver=stored["ver"], blob=stored["blob"])
        self.node.send_service(VAULT_FEATURE, source, encode(reply))

    # -- the account's side

    def _answering_guardian(self, fields: dict[str, Any]) -> AuthorityId:
        guardian = read_authority(fields["by"], "vault guardian")
        if guardian not in self._guardians():
            raise ValidationError(f"{guardian} is not a guardian of this account")
        return guardian

    def _on_ack(self, _source: str, account: AuthorityId, fields: dict[str, Any]) -> None:
        keys = self.node.account_keys()
        if keys is None or account != keys.authority:
            raise ValidationError("a vault acknowledgement for another account")
        guardian = self._answering_guardian(fields)
        version = read_uint(fields["ver"], "vault version")
        self._acked[guardian] = max(self._acked.get(guardian, -1), version)

    def _on_blob(self, account: AuthorityId, fields: dict[str, Any], now: float) -> None:
        keys = self.node.account_keys()
        if keys is None or account != keys.authority:
            raise ValidationError("a vault copy for another account")
        blob = read_bytes(fields["blob"], "vault copy", max_size=MAX_BACKUP_BYTES + 64)
        guardian = self._answering_guardian(fields)
        guardians = self._guardians()
        if not self._needs_restore():
            return  # another guardian answered first
        if not blob:
            self._empty.add(guardian)
            if self._empty >= set(guardians):
                self._mark_restored(0)  # no guardian keeps a copy: nothing to restore
            return
        if len(blob) < 24 + 16:
            raise InvalidEncoding("a vault copy is too short")
        try:
            plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[24:], account.raw, blob[:24], _seal_key(keys.data_key, account)
            )
        except nacl.exceptions.CryptoError:
            raise CryptoError("a vault copy does not open with this account's data key") from None
        contexts = _decode_backup(plain)
        contacts = self._contacts()
        if contacts is None:
            raise NotFound("contacts are not running on this device")
        self.restored = contacts.restore(contexts, now)
        self._mark_restored(len(self.restored))

    def _mark_restored(self, count: int) -> None:
        with self.node.storage.transaction() as txn:
            txn.put(_STATE_TABLE, _RESTORED_KEY, encode(count))


def _status(reader: JournalReader, _args: Mapping[str, Any]) -> dict[str, Any]:
    service = reader.service(VAULT_FEATURE)
    if service is None:
        return {"restored": [], "asked": 0, "refused": 0, "truncated": False}
    return {
        "restored": [str(c) for c in service.restored],
        "asked": service.asked,
        "refused": service.refused,
        "truncated": service.truncated,
        "acknowledged": {str(g): v for g, v in service._acked.items()},
    }


def vault_feature() -> Feature:
    return Feature(
        name=VAULT_FEATURE,
        queries={"vault.status": _status},
        service=VaultService,
        requires=("contacts", DEVICES_FEATURE),
        needs_account_keys=True,
        description="Guardians keep a sealed copy of the account's contacts for a recovery.",
    )

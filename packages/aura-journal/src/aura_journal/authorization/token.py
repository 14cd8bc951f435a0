"""Capability tokens: a Biscuit rooted at a device key, carried with its delegation.

The authority block states who issued it (``authority``), under which epoch
(``epoch``) and what it grants (``capability(context, "ns:name")`` facts),
plus an optional expiry check. Holders narrow a token offline by appending
an :class:`Attenuation` block of checks on operation, context, resource,
time or required journal facts. Every value enters Datalog as a Biscuit
parameter, never as source text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, Self

import attrs
import biscuit_auth

from aura_core import dag_cbor
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_core.identifiers import ContextId
from aura_core.time_domains import PhysicalTime
from aura_journal.authorization.capability import Capability
from aura_journal.authorization.datalog_fact import DatalogFact
from aura_journal.authorization.delegation import SignedDelegation
from aura_journal.authorization.device_root import DeviceRootKey
from aura_journal.authorization.frontier import CapabilityFrontier

__all__ = ["Attenuation", "CapabilityToken"]

_TOKEN_VERSION = 1
_TOKEN_KEYS = frozenset({"v", "delegation", "biscuit"})
_MAX_ENCODED_TOKEN = 64 * 1024
_MAX_RESOURCE = 256
_UTC = datetime.UTC


def seconds_floor(moment: PhysicalTime) -> datetime.datetime:
    """A deadline in whole seconds, rounded down (never later than asked)."""
    return datetime.datetime.fromtimestamp(moment.ts_ms // 1000, tz=_UTC)


def seconds_ceil(moment: PhysicalTime) -> datetime.datetime:
    """``now`` in whole seconds at its latest possible instant, rounded up."""
    return datetime.datetime.fromtimestamp(-(-moment.latest_ms // 1000), tz=_UTC)


def library_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is biscuit-python failing (not an interrupt or exit).

    A Rust panic surfaces as pyo3's ``PanicException``, which derives from
    ``BaseException``; hostile bytes must still end in a documented error.
    """
    return not isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit)


def check_resource(value: object) -> str:
    """Validate a resource name (shared with the authorizer's request)."""
    if type(value) is not str or not 1 <= len(value) <= _MAX_RESOURCE or "\x00" in value:
        raise InvalidInput(f"a resource must be a string of 1..{_MAX_RESOURCE} characters, no NUL")
    return value


def _optional_set(kind: type, label: str) -> Any:
    def check(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
        if value is None:
            return
        if type(value) is not frozenset or not all(isinstance(v, kind) for v in value):
            raise InvalidInput(f"{label} must be None or a frozenset of {kind.__name__}")

    return check


def _resources(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if value is None:
        return
    if type(value) is not frozenset:
        raise InvalidInput("resources must be None or a frozenset of str")
    for item in value:
        check_resource(item)


def _required_facts(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not all(isinstance(f, DatalogFact) for f in value):
        raise InvalidInput("required_facts must be a tuple of DatalogFact")


@attrs.frozen
class Attenuation:
    """Restrictions one attenuation block adds; ``None`` leaves a dimension open.

    An empty set allows nothing in that dimension. ``required_facts`` must
    each be present among the journal facts given at authorization time.
    """

    operations: frozenset[Capability] | None = attrs.field(
        default=None, validator=_optional_set(Capability, "operations")
    )
    contexts: frozenset[ContextId] | None = attrs.field(
        default=None, validator=_optional_set(ContextId, "contexts")
    )
    resources: frozenset[str] | None = attrs.field(default=None, validator=_resources)
    not_after: PhysicalTime | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(PhysicalTime)),
    )
    required_facts: tuple[DatalogFact, ...] = attrs.field(default=(), validator=_required_facts)

    def __attrs_post_init__(self) -> None:
        if (
            self.operations is None
            and self.contexts is None
            and self.resources is None
            and self.not_after is None
            and not self.required_facts
        ):
            raise InvalidInput("an attenuation must restrict at least one dimension")

    def block(self) -> biscuit_auth.BlockBuilder:
        """The Biscuit block of checks for this attenuation."""
        block = biscuit_auth.BlockBuilder()
        if self.operations is not None:
            block.add_check(
                biscuit_auth.Check(
                    "check if operation($op), {allowed}.contains($op)",
                    {"allowed": {str(c) for c in self.operations}},
                )
            )
        if self.contexts is not None:
            block.add_check(
                biscuit_auth.Check(
                    "check if context($ctx), {allowed}.contains($ctx)",
                    {"allowed": {str(c) for c in self.contexts}},
                )
            )
        if self.resources is not None:
            block.add_check(
                biscuit_auth.Check(
                    "check if resource($res), {allowed}.contains($res)",
                    {"allowed": set(self.resources)},
                )
            )
        if self.not_after is not None:
            block.add_check(
                biscuit_auth.Check(
                    "check if time($t), $t <= {deadline}",
                    {"deadline": seconds_floor(self.not_after)},
                )
            )
        for fact in self.required_facts:
            params: dict[str, Any] = {}
            source = fact.render("term", params)
            block.add_check(biscuit_auth.Check("check if " + source.rstrip(";"), params))
        return block


def _biscuit_bytes(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or not value:
        raise InvalidInput("biscuit must be non-empty bytes")


@attrs.frozen
class CapabilityToken:
    """A serialized Biscuit plus the signed delegation that roots it."""

    delegation: SignedDelegation = attrs.field(
        validator=attrs.validators.instance_of(SignedDelegation)
    )
    biscuit: bytes = attrs.field(validator=_biscuit_bytes, repr=lambda b: f"<{len(b)} bytes>")

    @classmethod
    def issue(
        cls,
        *,
        root: DeviceRootKey,
        delegation: SignedDelegation,
        grants: Iterable[tuple[ContextId, Capability]] | CapabilityFrontier,
        not_after: PhysicalTime | None = None,
    ) -> Self:
        """Mint a token granting ``grants``, within what ``delegation`` allows this root."""
        statement = delegation.statement
        if root.public_key != statement.device_root:
            raise InvalidInput("the issuing root key is not the device root the delegation names")
        given = list(grants.grants if isinstance(grants, CapabilityFrontier) else grants)
        for pair in given:
            if (
                type(pair) is not tuple
                or len(pair) != 2
                or not isinstance(pair[0], ContextId)
                or not isinstance(pair[1], Capability)
            ):
                raise InvalidInput("grants must be (ContextId, Capability) pairs")
        pairs = sorted(set(given))
        if not pairs:
            raise InvalidInput("a token must grant at least one capability")
        params: dict[str, Any] = {
            "authority": str(statement.authority),
            "epoch": statement.epoch.value,
        }
        lines = ["authority({authority});", "epoch({epoch});"]
        for index, (context, capability) in enumerate(pairs):
            if not statement.allows(context, capability):
                raise InvalidInput(f"the delegation does not allow granting {capability}")
            params[f"ctx{index}"] = str(context)
            params[f"cap{index}"] = str(capability)
            lines.append(f"capability({{ctx{index}}}, {{cap{index}}});")
        if not_after is not None:
            if not isinstance(not_after, PhysicalTime):
                raise InvalidInput("not_after must be a PhysicalTime")
            params["deadline"] = seconds_floor(not_after)
            lines.append("check if time($t), $t <= {deadline};")
        builder = biscuit_auth.BiscuitBuilder("\n".join(lines), params)
        token = builder.build(root.private_key)
        return cls(delegation, bytes(token.to_bytes()))

    def attenuate(self, attenuation: Attenuation) -> CapabilityToken:
        """A new token with ``attenuation``'s checks appended (offline, no secret needed)."""
        if not isinstance(attenuation, Attenuation):
            raise InvalidInput("attenuate needs an Attenuation")
        root = biscuit_auth.PublicKey.from_bytes(
            self.delegation.statement.device_root, biscuit_auth.Algorithm.Ed25519
        )
        try:
            parsed = biscuit_auth.Biscuit.from_bytes(self.biscuit, root)
        except BaseException as exc:
            if not library_failure(exc):
                raise
            raise InvalidInput(
                "token does not verify against its delegated root; cannot attenuate"
            ) from None
        return CapabilityToken(
            self.delegation, bytes(parsed.append(attenuation.block()).to_bytes())
        )

    def to_bytes(self) -> bytes:
        """Canonical DAG-CBOR: ``{v, delegation, biscuit}``."""
        return dag_cbor.encode(
            {
                "v": _TOKEN_VERSION,
                "delegation": self.delegation.to_canonical(),
                "biscuit": self.biscuit,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Strict decode; signatures are checked later, by the authorizer."""
        if not isinstance(data, bytes):
            raise InvalidInput(f"token must be bytes, got {type(data).__name__}")
        if len(data) > _MAX_ENCODED_TOKEN:
            raise InvalidEncoding(f"token is {len(data)} bytes (limit {_MAX_ENCODED_TOKEN})")
        value = dag_cbor.decode(data, allow_floats=False)
        if type(value) is not dict or value.keys() != _TOKEN_KEYS:
            raise InvalidEncoding("token must be a map with exactly {v, delegation, biscuit}")
        if value["v"] != _TOKEN_VERSION:
            raise InvalidEncoding(f"unsupported token version {value['v']!r}")
        if type(value["biscuit"]) is not bytes or not value["biscuit"]:
            raise InvalidEncoding("token biscuit must be non-empty bytes")
        return cls(SignedDelegation.from_canonical(value["delegation"]), value["biscuit"])

"""Decide whether a capability token allows a request, given journal facts.

Verification (:meth:`CapabilityAuthorizer.verify`) runs once per token:
delegation signature under the trusted group key, epoch and expiry of the
delegation, the Biscuit signature chain under the delegated device root, the
token's shape limits, and that the token's grants stay within the
delegation. Authorization (:meth:`CapabilityAuthorizer.authorize`) runs per
request: it re-checks revocation and expiry (they change over time), finds
the grant, and evaluates every check of the token with Biscuit against the
request facts (``time``, ``operation``, ``context``, ``resource``) and the
journal facts, under deliberate evaluation limits.

Every refusal is an :class:`AuthorizationDenied` whose message names the
failed check by its kind and position, never by the token's values, and is
raised ``from None`` so no library error carrying token source is chained.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

import attrs
import biscuit_auth

from aura_core.errors import (
    AuthorizationDenied,
    CryptoError,
    ErrorKind,
    InvalidEncoding,
    InvalidInput,
)
from aura_core.identifiers import AuthorityId, ContextId, Epoch
from aura_core.time_domains import PhysicalTime
from aura_journal.authorization._token_structure import TokenStructure, read_token_structure
from aura_journal.authorization.capability import Capability
from aura_journal.authorization.datalog_fact import DatalogFact, biscuit_fact
from aura_journal.authorization.delegation import Delegation
from aura_journal.authorization.frontier import CapabilityFrontier
from aura_journal.authorization.limits import EvaluationLimits, TokenLimits
from aura_journal.authorization.token import (
    CapabilityToken,
    check_resource,
    library_failure,
    seconds_ceil,
)

__all__ = [
    "AccessRequest",
    "Authorization",
    "CapabilityAuthorizer",
    "TrustedAuthority",
    "VerifiedToken",
]

_FAILED_CHECK = re.compile(r"Check n°(\d+) in block n°(\d+)")
# The token's authority block may assert only authority/epoch/capability facts and
# attenuation blocks no facts at all (see _token_structure), so operation() and
# context() can only be the request's own facts and the policy may join on them.
_POLICY = "allow if operation($op), context($ctx), capability($ctx, $op)"


@functools.lru_cache(maxsize=4096)
def _request_fact(name: str, value: str) -> biscuit_auth.Fact:
    """``operation(...)``, ``context(...)`` or ``resource(...)``, parsed once per value."""
    return biscuit_auth.Fact(name + "({value})", {"value": value})


@functools.lru_cache(maxsize=256)
def _time_fact(moment: PhysicalTime) -> biscuit_auth.Fact:
    return biscuit_auth.Fact("time({now})", {"now": seconds_ceil(moment)})


def _key32(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidInput(f"{attribute.name} must be a 32-byte Ed25519 public key")


@attrs.frozen
class TrustedAuthority:
    """An authority this verifier trusts: its group key and current epoch.

    Tokens whose delegation is from an older epoch are revoked: rotating the
    epoch (after removing a device, say) revokes every older delegation.
    """

    authority: AuthorityId = attrs.field(validator=attrs.validators.instance_of(AuthorityId))
    group_key: bytes = attrs.field(validator=_key32)
    current_epoch: Epoch = attrs.field(validator=attrs.validators.instance_of(Epoch))


@attrs.frozen
class AccessRequest:
    """What is being attempted: a capability in a context, optionally on a resource."""

    context: ContextId = attrs.field(validator=attrs.validators.instance_of(ContextId))
    capability: Capability = attrs.field(validator=attrs.validators.instance_of(Capability))
    resource: str | None = attrs.field(default=None)

    _context_text: str = attrs.field(init=False, eq=False, repr=False)
    _capability_text: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.resource is not None:
            check_resource(self.resource)
        # Printed once: the capability guard evaluates the same request shape often.
        object.__setattr__(self, "_context_text", str(self.context))
        object.__setattr__(self, "_capability_text", str(self.capability))


@attrs.frozen
class Authorization:
    """A granted request and on whose authority it was granted."""

    authority: AuthorityId
    epoch: Epoch
    device_root: bytes
    context: ContextId
    capability: Capability


@attrs.frozen(eq=False)
class VerifiedToken:
    """A token whose signatures, shape and delegation ceiling have been checked."""

    token: CapabilityToken = attrs.field(repr=False)
    delegation: Delegation
    grants: frozenset[tuple[ContextId, Capability]] = attrs.field(repr=False)
    structure: TokenStructure = attrs.field(repr=False)
    biscuit: biscuit_auth.Biscuit = attrs.field(repr=False)

    @property
    def authority(self) -> AuthorityId:
        return self.delegation.authority

    @property
    def epoch(self) -> Epoch:
        return self.delegation.epoch


def _denied(reason: str, *, kind: ErrorKind | None = None) -> AuthorizationDenied:
    return AuthorizationDenied(f"authorization denied: {reason}", kind=kind)


class CapabilityAuthorizer:
    """Verifies tokens from trusted authorities and authorizes requests with them."""

    def __init__(
        self,
        trusted: Iterable[TrustedAuthority],
        *,
        limits: EvaluationLimits | None = None,
        token_limits: TokenLimits | None = None,
    ) -> None:
        table: dict[AuthorityId, TrustedAuthority] = {}
        for entry in trusted:
            if not isinstance(entry, TrustedAuthority):
                raise InvalidInput("trusted authorities must be TrustedAuthority values")
            if entry.authority in table:
                raise InvalidInput(f"authority {entry.authority} is listed twice")
            table[entry.authority] = entry
        self._trusted: Mapping[AuthorityId, TrustedAuthority] = table
        self.limits = limits if limits is not None else EvaluationLimits()
        self.token_limits = token_limits if token_limits is not None else TokenLimits()
        if not isinstance(self.limits, EvaluationLimits) or not isinstance(
            self.token_limits, TokenLimits
        ):
            raise InvalidInput("limits must be EvaluationLimits and token_limits TokenLimits")
        base = biscuit_auth.AuthorizerBuilder(_POLICY)
        run_limits = base.limits()
        run_limits.max_facts = self.limits.max_facts
        run_limits.max_iterations = self.limits.max_iterations
        run_limits.max_time = self.limits.max_time
        base.set_limits(run_limits)
        self._base = base.raw_snapshot()

    def with_authority(self, trusted: TrustedAuthority) -> CapabilityAuthorizer:
        """A copy trusting ``trusted`` (replacing that authority's entry, e.g. a new epoch)."""
        table = dict(self._trusted)
        table[trusted.authority] = trusted
        return CapabilityAuthorizer(
            table.values(), limits=self.limits, token_limits=self.token_limits
        )

    # --- verification ------------------------------------------------------------

    def _trust(self, delegation: Delegation, now: PhysicalTime) -> TrustedAuthority:
        trusted = self._trusted.get(delegation.authority)
        if trusted is None:
            raise _denied("untrusted authority (the token's root is not trusted here)")
        current = trusted.current_epoch.value
        if delegation.epoch.value < current:
            raise _denied(
                f"revoked epoch (delegation epoch {delegation.epoch.value} < current {current})"
            )
        if delegation.epoch.value > current:
            raise _denied(
                f"unknown epoch (delegation epoch {delegation.epoch.value} is ahead of "
                f"known epoch {current}; refresh the authority's state)",
                kind=ErrorKind.TRANSIENT,
            )
        if delegation.expired(now):
            raise _denied("delegation expired")
        return trusted

    def verify(self, token: CapabilityToken | bytes, *, now: PhysicalTime) -> VerifiedToken:
        """Check everything about ``token`` that does not depend on the request."""
        if not isinstance(now, PhysicalTime):
            raise InvalidInput("now must be a PhysicalTime")
        if isinstance(token, bytes):
            try:
                token = CapabilityToken.from_bytes(token)
            except InvalidEncoding as exc:
                raise _denied(f"token encoding ({exc.message})") from None
            except InvalidInput as exc:
                raise _denied(f"token encoding ({exc.message})") from None
        if not isinstance(token, CapabilityToken):
            raise InvalidInput("verify needs a CapabilityToken or its bytes")
        delegation = token.delegation.statement
        trusted = self._trust(delegation, now)
        try:
            token.delegation.verify(trusted.group_key)
        except CryptoError as exc:
            raise _denied(f"delegation ({exc.message})") from None
        if len(token.biscuit) > self.token_limits.max_bytes:
            raise _denied(
                f"token shape: token is {len(token.biscuit)} bytes "
                f"(limit {self.token_limits.max_bytes})"
            )
        root = biscuit_auth.PublicKey.from_bytes(
            delegation.device_root, biscuit_auth.Algorithm.Ed25519
        )
        try:
            parsed = biscuit_auth.Biscuit.from_bytes(token.biscuit, root)
        except BaseException as exc:
            if not library_failure(exc):
                raise
            raise _denied(
                "token signature (the token is not signed by its delegated device root)"
            ) from None
        structure = read_token_structure(token.biscuit, self.token_limits)
        grants = self._grants(structure, delegation)
        return VerifiedToken(token, delegation, grants, structure, parsed)

    @staticmethod
    def _grants(
        structure: TokenStructure, delegation: Delegation
    ) -> frozenset[tuple[ContextId, Capability]]:
        grants: set[tuple[ContextId, Capability]] = set()
        for name, terms in structure.authority_facts:
            if name == "authority" and terms != (str(delegation.authority),):
                raise _denied("token binding (the token names a different authority)")
            if name == "epoch" and terms != (delegation.epoch.value,):
                raise _denied("token binding (the token names a different epoch)")
            if name == "capability":
                try:
                    context = ContextId.parse(str(terms[0]))
                    capability = Capability.parse(str(terms[1]))
                except InvalidInput:
                    raise _denied("token shape: a capability grant is malformed") from None
                if (str(context), str(capability)) != terms:
                    raise _denied("token shape: a capability grant is not in canonical form")
                if not delegation.allows(context, capability):
                    raise _denied("delegation ceiling (the token grants beyond its delegation)")
                grants.add((context, capability))
        return frozenset(grants)

    # --- authorization -----------------------------------------------------------

    def authorize(
        self,
        token: VerifiedToken | CapabilityToken | bytes,
        request: AccessRequest,
        *,
        now: PhysicalTime,
        facts: Iterable[DatalogFact] = (),
    ) -> Authorization:
        """Allow ``request`` or raise :class:`AuthorizationDenied` naming the failed check."""
        if not isinstance(request, AccessRequest):
            raise InvalidInput("authorize needs an AccessRequest")
        if not isinstance(now, PhysicalTime):
            raise InvalidInput("now must be a PhysicalTime")
        verified = token if isinstance(token, VerifiedToken) else self.verify(token, now=now)
        trusted = self._trust(verified.delegation, now)
        if trusted.group_key != verified.delegation.group_key:
            raise _denied("untrusted authority (verified under a different group key)")
        if (request.context, request.capability) not in verified.grants:
            if any(cap == request.capability for _, cap in verified.grants):
                raise _denied(f"context (the token does not grant {request.capability} here)")
            raise _denied(f"missing capability (the token does not grant {request.capability})")
        self._evaluate(verified, request, now, facts)
        return Authorization(
            verified.delegation.authority,
            verified.delegation.epoch,
            verified.delegation.device_root,
            request.context,
            request.capability,
        )

    def _evaluate(
        self,
        verified: VerifiedToken,
        request: AccessRequest,
        now: PhysicalTime,
        facts: Iterable[DatalogFact],
    ) -> None:
        world = [
            _time_fact(now),
            _request_fact("operation", request._capability_text),
            _request_fact("context", request._context_text),
        ]
        if request.resource is not None:
            world.append(_request_fact("resource", request.resource))
        for fact in facts:
            if not isinstance(fact, DatalogFact):
                raise InvalidInput("journal facts must be DatalogFact values")
            world.append(biscuit_fact(fact))
        try:
            # The snapshot carries the policy and the run limits (a test pins that the
            # time limit still applies).
            builder = biscuit_auth.AuthorizerBuilder.from_raw_snapshot(self._base)
            for item in world:
                builder.add_fact(item)
            builder.build(verified.biscuit).authorize()
        except biscuit_auth.AuthorizationError as exc:
            raise self._explain(verified.structure, str(exc)) from None
        except BaseException as exc:
            if not library_failure(exc):
                raise
            raise _denied("evaluation error") from None

    @staticmethod
    def _explain(structure: TokenStructure, text: str) -> AuthorizationDenied:
        if "execution limits" in text or "timeout" in text.lower():
            return _denied("evaluation limits exceeded")
        failed = []
        for check_index, block_index in _FAILED_CHECK.findall(text):
            shape = structure.check_at(int(block_index), int(check_index))
            if shape is not None:
                described = f"{shape.label} (block {shape.block}, check {shape.index})"
                if described not in failed:
                    failed.append(described)
        if failed:
            return _denied("token check failed: " + ", ".join(failed))
        if "no matching policy" in text:
            return _denied("missing capability (no grant matched)")
        return _denied("token checks failed")

    # --- frontier ----------------------------------------------------------------

    def grants_of(
        self,
        token: VerifiedToken | CapabilityToken | bytes,
        *,
        now: PhysicalTime,
        facts: Iterable[DatalogFact] = (),
        resource: str | None = None,
    ) -> CapabilityFrontier:
        """What ``token`` actually allows now: its grants that pass every check."""
        verified = token if isinstance(token, VerifiedToken) else self.verify(token, now=now)
        fact_list = tuple(facts)
        allowed = []
        for context, capability in sorted(verified.grants):
            try:
                self.authorize(
                    verified,
                    AccessRequest(context, capability, resource),
                    now=now,
                    facts=fact_list,
                )
            except AuthorizationDenied:
                continue
            allowed.append((context, capability))
        return CapabilityFrontier.from_grants(allowed)

    def frontier(
        self,
        tokens: Iterable[VerifiedToken | CapabilityToken | bytes],
        *,
        now: PhysicalTime,
        facts: Iterable[DatalogFact] = (),
        resource: str | None = None,
    ) -> CapabilityFrontier:
        """The meet of what every token allows (at least one token is required)."""
        fact_list = tuple(facts)
        return CapabilityFrontier.meet_all(
            self.grants_of(t, now=now, facts=fact_list, resource=resource) for t in tokens
        )

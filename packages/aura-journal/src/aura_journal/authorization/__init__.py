"""Capability authorization with Biscuit tokens.

Tokens grant namespaced capabilities per context, are rooted at a device key
that the authority's threshold group key delegates to, attenuate offline,
and are evaluated against journal facts under deliberate limits. See
``docs/authorization.md`` for the model and its threats.
"""

from aura_journal.authorization.authorizer import (
    AccessRequest,
    Authorization,
    CapabilityAuthorizer,
    TrustedAuthority,
    VerifiedToken,
)
from aura_journal.authorization.capability import Capability
from aura_journal.authorization.datalog_fact import RESERVED_PREDICATES, DatalogFact, DatalogTerm
from aura_journal.authorization.delegation import DELEGATION_DOMAIN, Delegation, SignedDelegation
from aura_journal.authorization.device_root import DeviceRootKey
from aura_journal.authorization.frontier import CapabilityFrontier
from aura_journal.authorization.limits import EvaluationLimits, TokenLimits
from aura_journal.authorization.token import Attenuation, CapabilityToken

__all__ = [
    "DELEGATION_DOMAIN",
    "RESERVED_PREDICATES",
    "AccessRequest",
    "Attenuation",
    "Authorization",
    "Capability",
    "CapabilityAuthorizer",
    "CapabilityFrontier",
    "CapabilityToken",
    "DatalogFact",
    "DatalogTerm",
    "Delegation",
    "DeviceRootKey",
    "EvaluationLimits",
    "SignedDelegation",
    "TokenLimits",
    "TrustedAuthority",
    "VerifiedToken",
]

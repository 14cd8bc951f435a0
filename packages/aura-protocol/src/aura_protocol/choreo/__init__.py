"""The choreography runtime: executes projected local types through the guard chain.

:class:`ChoreoRunner` is the sans-IO core (a role's local type, messages in,
sends out); :class:`ChoreoParticipant` binds it to a context, a cast of
authorities and a guard stack; :func:`run_role` drives it under anyio and
:class:`ChoreoNode` under the deterministic simulator. See
``docs/choreo-runtime.md``.
"""

from aura_protocol.choreo.choreo_driver import MemoryEnvelopeHub, run_role
from aura_protocol.choreo.choreo_message import CHOREO_MESSAGE_VERSION, ChoreoMessage
from aura_protocol.choreo.choreo_node import ACK_PREFIX, ChoreoNode
from aura_protocol.choreo.choreo_participant import ChoreoParticipant, RoleBinding
from aura_protocol.choreo.choreo_runner import ChoreoRunner, ChoreoSend, RoleBehaviour
from aura_protocol.choreo.payload_types import BUILTIN_TYPES, PayloadType, PayloadTypes

__all__ = [
    "ACK_PREFIX",
    "BUILTIN_TYPES",
    "CHOREO_MESSAGE_VERSION",
    "ChoreoMessage",
    "ChoreoNode",
    "ChoreoParticipant",
    "ChoreoRunner",
    "ChoreoSend",
    "MemoryEnvelopeHub",
    "PayloadType",
    "PayloadTypes",
    "RoleBehaviour",
    "RoleBinding",
    "run_role",
]

"""Why an invitation was refused, as members of the ``AuraError`` family.

Each refusal a user can meet has its own class and a message that names the
problem (and what to do), so an interface can say "this code expired" rather
than "invalid input".
"""

from __future__ import annotations

from aura_core.errors import CryptoError, InvalidEncoding, NotFound, ValidationError

__all__ = [
    "InvalidInvitationCode",
    "InvitationCancelled",
    "InvitationExpired",
    "InvitationForged",
    "InvitationNotFound",
    "InvitationReplayed",
]


class InvalidInvitationCode(InvalidEncoding):
    """The text is not a well-formed invitation code (wrong prefix or version, truncated, corrupted)."""


class InvitationForged(CryptoError):
    """The code decodes but its signature does not verify: it was altered or forged."""


class InvitationExpired(ValidationError):
    """The invitation's expiry has passed; ask the inviter for a new one."""


class InvitationCancelled(ValidationError):
    """The inviter cancelled this invitation."""


class InvitationReplayed(ValidationError):
    """The invitation was already accepted, declined or redeemed; a code works once."""


class InvitationNotFound(NotFound):
    """This authority never issued (or never received) the invitation named."""

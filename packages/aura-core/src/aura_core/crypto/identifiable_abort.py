"""Errors that name the participants whose messages made a protocol abort.

FROST and the DKG are not robust: one misbehaving participant stops the run.
What they do guarantee is that the honest parties learn *who* misbehaved, so
the caller can exclude them and retry. These errors carry those identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aura_core.errors import CryptoError

__all__ = [
    "InvalidSignatureShares",
    "KeyGenerationAborted",
    "ParticipantMisbehaved",
    "ShareComplaint",
]


def _describe(identifiers: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in identifiers)


class ParticipantMisbehaved(CryptoError):
    """A protocol run aborted because of the listed participants.

    ``culprits`` holds their identifiers in ascending order.
    """

    def __init__(self, message: str, culprits: Iterable[int]) -> None:
        self.culprits: tuple[int, ...] = tuple(sorted(set(culprits)))
        super().__init__(f"{message}: participant(s) {_describe(self.culprits)}")


class InvalidSignatureShares(ParticipantMisbehaved):
    """The aggregate signature did not verify; these signature shares are invalid."""

    def __init__(self, culprits: Iterable[int]) -> None:
        super().__init__("invalid signature share", culprits)


@attrs.frozen
class ShareComplaint:
    """``accuser`` received ``share`` from ``accused`` and it does not match the
    accused's published commitment.

    Publishing the bad share reveals nothing useful (it is not on the sender's
    committed polynomial) and lets anyone check the complaint against the
    accused's broadcast commitment (see ``aura_core.crypto.vss.complaint_is_justified``).
    """

    accuser: int
    accused: int
    share: int = attrs.field(repr=False)


class KeyGenerationAborted(ParticipantMisbehaved):
    """A DKG, refresh or reshare run aborted; ``culprits`` sent invalid data.

    ``complaints`` lists the share complaints this participant raised (empty
    when the abort came from a publicly checkable fault such as a bad proof of
    knowledge or a malformed commitment).
    """

    def __init__(
        self,
        reason: str,
        culprits: Iterable[int],
        complaints: Iterable[ShareComplaint] = (),
    ) -> None:
        self.complaints: tuple[ShareComplaint, ...] = tuple(complaints)
        super().__init__(reason, culprits)

"""Key material held by threshold participants.

``KeyPackage`` is what one participant keeps (its secret signing share);
``PublicKeyPackage`` is the public "group info" every participant and the
coordinator share: the group verifying key and each participant's verifying
share. Secrets never appear in ``repr``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import attrs

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element, element_converter
from aura_core.crypto.participants import MAX_PARTICIPANTS, check_identifier, check_threshold
from aura_core.crypto.vss import VssCommitment, evaluate_commitment, vss_verify
from aura_core.errors import CryptoError, InvalidInput

__all__ = [
    "KeyPackage",
    "PublicKeyPackage",
    "SecretShare",
    "key_package_from_secret_share",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _secret_scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{attribute.name} must be an int scalar")
    if not 0 < value < ORDER:
        raise InvalidInput(f"{attribute.name} must be a nonzero scalar in [1, L)")


def _positive_count(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{attribute.name} must be an int")
    if not 1 <= value <= MAX_PARTICIPANTS:
        raise InvalidInput(f"{attribute.name} must be in [1, {MAX_PARTICIPANTS}], got {value}")


@attrs.frozen
class SecretShare:
    """What a dealer sends one participant: its share and the dealer's VSS commitment."""

    identifier: int = attrs.field(validator=_identifier)
    signing_share: int = attrs.field(validator=_secret_scalar, repr=_secret_repr)
    commitment: VssCommitment = attrs.field(validator=attrs.validators.instance_of(VssCommitment))

    def verify(self) -> bool:
        """RFC 9591 ``vss_verify`` of this share against the commitment."""
        return vss_verify((self.identifier, self.signing_share), self.commitment)


@attrs.frozen
class KeyPackage:
    """One participant's signing key share and the public values it signs under.

    Construction checks that ``signing_share·B == verifying_share``, so a
    key package can never hold a share that disagrees with its public image.
    """

    identifier: int = attrs.field(validator=_identifier)
    signing_share: int = attrs.field(validator=_secret_scalar, repr=_secret_repr)
    verifying_share: Element = attrs.field(converter=element_converter("verifying_share"))
    verifying_key: Element = attrs.field(converter=element_converter("verifying_key"))
    min_signers: int = attrs.field(validator=_positive_count)

    def __attrs_post_init__(self) -> None:
        if group.base_mult(self.signing_share) != self.verifying_share:
            raise CryptoError("key package signing_share does not match its verifying_share")
        if self.min_signers == 1 and self.verifying_share != self.verifying_key:
            raise CryptoError(
                "a single-signer key package must have verifying_share == verifying_key"
            )

    @property
    def is_single_signer(self) -> bool:
        """A 1-of-1 key: signs with plain Ed25519 instead of FROST."""
        return self.min_signers == 1


def _to_share_table(value: object) -> tuple[tuple[int, Element], ...]:
    items: Iterable[object]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, bytes | str):
        raise InvalidInput("verifying_shares must be pairs of (identifier, element)")
    else:
        items = value  # type: ignore[assignment]
    table: list[tuple[int, Element]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidInput("verifying_shares must be pairs of (identifier, element)")
        ident = check_identifier(item[0], name="verifying_shares identifier")
        table.append((ident, group.deserialize_element(item[1], name=f"verifying share {ident}")))
    table.sort(key=lambda pair: pair[0])
    for (a, _), (b, _) in itertools.pairwise(table):
        if a == b:
            raise InvalidInput(f"verifying_shares: duplicate identifier {a}")
    return tuple(table)


@attrs.frozen
class PublicKeyPackage:
    """The group's public information: verifying key, verifying shares, threshold.

    ``verifying_shares`` is a tuple of ``(identifier, Element)`` sorted by
    identifier (a mapping is accepted and converted).
    """

    verifying_shares: tuple[tuple[int, Element], ...] = attrs.field(converter=_to_share_table)
    verifying_key: Element = attrs.field(converter=element_converter("verifying_key"))
    min_signers: int = attrs.field(validator=_positive_count)
    _lookup: dict[int, Element] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        count = len(self.verifying_shares)
        if count == 0:
            raise InvalidInput("public key package has no verifying shares")
        check_threshold(self.min_signers, count)
        if self.min_signers == 1 and self.verifying_shares[0][1] != self.verifying_key:
            raise CryptoError("a single-signer key must have verifying share == verifying key")
        object.__setattr__(self, "_lookup", dict(self.verifying_shares))

    @property
    def identifiers(self) -> tuple[int, ...]:
        return tuple(ident for ident, _ in self.verifying_shares)

    @property
    def max_signers(self) -> int:
        return len(self.verifying_shares)

    def has(self, identifier: int) -> bool:
        return identifier in self._lookup

    def verifying_share(self, identifier: int) -> Element:
        """The verifying share of ``identifier``; :class:`InvalidInput` if unknown."""
        try:
            return self._lookup[identifier]
        except (KeyError, TypeError):
            raise InvalidInput(
                f"participant {identifier!r} is not in the public key package"
            ) from None


def key_package_from_secret_share(share: SecretShare) -> KeyPackage:
    """Check a dealer's share against its commitment (``vss_verify``) and keep it.

    Raises :class:`CryptoError` naming the participant if the share is invalid.
    """
    # vss_verify, with the share's public image computed once and reused.
    image = group.base_mult(share.signing_share)
    if image != evaluate_commitment(share.commitment, share.identifier):
        raise CryptoError(
            f"secret share for participant {share.identifier} does not match the VSS commitment"
        )
    verifying_share = group.to_element(image, name="verifying share")
    return KeyPackage(
        identifier=share.identifier,
        signing_share=share.signing_share,
        verifying_share=verifying_share,
        verifying_key=share.commitment.public_key,
        min_signers=share.commitment.threshold,
    )

"""Two-round FROST(Ed25519, SHA-512) signing, RFC 9591 §4-5.

Round one: each signer runs :func:`commit` and publishes its
:class:`SigningCommitments`, keeping the :class:`SigningNonces`. Round two:
the coordinator sends a :class:`SigningPackage`; each signer runs
:func:`sign`. Finally :func:`aggregate` sums the shares into a plain Ed25519
signature, verifies it, and only if that fails checks every share to name the
culprits (identifiable abort, RFC 9591 §5.4).

The expensive part of both :func:`sign` and :func:`aggregate` is the group
commitment (one variable-base scalar multiplication per signer).
:func:`prepare_signing` computes it, the binding factors and the challenge
once; both functions accept the resulting :class:`SigningContext` in place of
the package, so a process that signs and aggregates (or holds several
shares) pays for it once.

Nonces must be used for exactly one :func:`sign` call and then discarded; the
functions here are pure and cannot enforce that, the caller must.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import attrs
import nacl.bindings as _sodium
import nacl.exceptions as _nacl_exc

from aura_core.crypto import ed25519_group as group
from aura_core.crypto.ed25519_group import ORDER, Element, element_converter, serialize_scalar
from aura_core.crypto.frost_ciphersuite import h1, h2, h3, h4, h5
from aura_core.crypto.identifiable_abort import InvalidSignatureShares
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage
from aura_core.crypto.participants import MAX_PARTICIPANTS, check_identifier
from aura_core.crypto.random_source import RandomSource, random_bytes
from aura_core.crypto.shamir import derive_interpolating_value
from aura_core.errors import CryptoError, InvalidInput

__all__ = [
    "SignatureShare",
    "SigningCommitments",
    "SigningContext",
    "SigningNonces",
    "SigningPackage",
    "aggregate",
    "binding_factor_inputs",
    "commit",
    "compute_binding_factors",
    "compute_challenge",
    "compute_group_commitment",
    "encode_group_commitment_list",
    "nonce_generate",
    "prepare_signing",
    "sign",
    "verify_signature_share",
]


def _secret_repr(_value: object) -> str:
    return "<secret>"


def _identifier(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    check_identifier(value, name=attribute.name)


def _scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{attribute.name} must be an int scalar")
    if not 0 <= value < ORDER:
        raise InvalidInput(f"{attribute.name} is not a canonical scalar (must be in [0, L))")


def _nonzero_scalar(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    _scalar(_instance, attribute, value)
    if value == 0:
        raise InvalidInput(f"{attribute.name} must be nonzero")


@attrs.frozen
class SigningCommitments:
    """A signer's round-one output: identifier and its two nonce commitments."""

    identifier: int = attrs.field(validator=_identifier)
    hiding: Element = attrs.field(converter=element_converter("hiding nonce commitment"))
    binding: Element = attrs.field(converter=element_converter("binding nonce commitment"))


@attrs.frozen
class SigningNonces:
    """A signer's secret round-one state; use once, then discard."""

    hiding: int = attrs.field(validator=_nonzero_scalar, repr=_secret_repr)
    binding: int = attrs.field(validator=_nonzero_scalar, repr=_secret_repr)
    commitments: SigningCommitments = attrs.field(
        validator=attrs.validators.instance_of(SigningCommitments)
    )


def _to_commitment_tuple(value: object) -> tuple[SigningCommitments, ...]:
    if isinstance(value, bytes | str) or not isinstance(value, Iterable):
        raise InvalidInput("signing package commitments must be a sequence")
    items = tuple(value)
    for item in items:
        if not isinstance(item, SigningCommitments):
            raise InvalidInput(
                f"signing package commitments must be SigningCommitments, got {type(item).__name__}"
            )
    return items


def _sorted_commitments(
    _instance: object, _attribute: object, value: tuple[SigningCommitments, ...]
) -> None:
    if not value:
        raise InvalidInput("signing package has no commitments")
    if len(value) > MAX_PARTICIPANTS:
        raise InvalidInput(f"signing package has more than {MAX_PARTICIPANTS} commitments")
    for previous, current in itertools.pairwise(value):
        if current.identifier == previous.identifier:
            raise InvalidInput(
                f"signing package lists participant {current.identifier} more than once"
            )
        if current.identifier < previous.identifier:
            raise InvalidInput(
                "signing package commitments are not sorted by identifier "
                f"({current.identifier} after {previous.identifier})"
            )


def _bytes_field(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, bytes):
        raise InvalidInput(f"{attribute.name} must be bytes, got {type(value).__name__}")


@attrs.frozen
class SigningPackage:
    """The coordinator's round-two request: the message and the chosen signers' commitments.

    Commitments must be sorted by identifier, each identifier once (RFC 9591);
    :meth:`from_unsorted` sorts for you.
    """

    commitments: tuple[SigningCommitments, ...] = attrs.field(
        converter=_to_commitment_tuple, validator=_sorted_commitments
    )
    message: bytes = attrs.field(validator=_bytes_field)

    @classmethod
    def from_unsorted(
        cls, commitments: Iterable[SigningCommitments], message: bytes
    ) -> SigningPackage:
        return cls(tuple(sorted(commitments, key=lambda c: c.identifier)), message)

    @property
    def identifiers(self) -> tuple[int, ...]:
        return tuple(c.identifier for c in self.commitments)


@attrs.frozen
class SignatureShare:
    """A signer's round-two output ``z_i``."""

    identifier: int = attrs.field(validator=_identifier)
    share: int = attrs.field(validator=_scalar)


@attrs.frozen
class SigningContext:
    """Everything derived from a signing package and group key, computed once.

    Build it with :func:`prepare_signing`; :func:`sign`, :func:`aggregate`
    and :func:`verify_signature_share` accept it instead of the package.
    """

    package: SigningPackage
    verifying_key: Element
    binding_factors: tuple[int, ...]
    group_commitment: Element
    challenge: int

    def binding_factor_for(self, identifier: int) -> int:
        for commitment, factor in zip(self.package.commitments, self.binding_factors, strict=True):
            if commitment.identifier == identifier:
                return factor
        raise InvalidInput(f"invalid participant: {identifier} is not in the signing package")


# --- RFC 9591 helper functions -------------------------------------------------


def nonce_generate(secret: int, rng: RandomSource) -> int:
    """RFC 9591 ``nonce_generate``: H3(32 fresh random bytes || SerializeScalar(secret)).

    Hedges a weak random source with the secret key share.
    """
    return h3(random_bytes(rng, 32) + serialize_scalar(secret))


def encode_group_commitment_list(commitments: Sequence[SigningCommitments]) -> bytes:
    """RFC 9591 ``encode_group_commitment_list``: id || hiding || binding for each signer."""
    parts = []
    for c in commitments:
        parts.append(c.identifier.to_bytes(32, "little"))
        parts.append(c.hiding)
        parts.append(c.binding)
    return b"".join(parts)


def binding_factor_inputs(
    verifying_key: Element, commitments: Sequence[SigningCommitments], message: bytes
) -> tuple[bytes, ...]:
    """The ``rho_input`` of each signer, in commitment order (RFC 9591 §4.4)."""
    prefix = bytes(verifying_key) + h4(message) + h5(encode_group_commitment_list(commitments))
    return tuple(prefix + c.identifier.to_bytes(32, "little") for c in commitments)


def compute_binding_factors(
    verifying_key: Element, commitments: Sequence[SigningCommitments], message: bytes
) -> tuple[tuple[int, int], ...]:
    """RFC 9591 ``compute_binding_factors``: ``(identifier, rho_i)`` per signer."""
    inputs = binding_factor_inputs(verifying_key, commitments, message)
    return tuple((c.identifier, h1(rho)) for c, rho in zip(commitments, inputs, strict=True))


def compute_group_commitment(
    commitments: Sequence[SigningCommitments], binding_factors: Sequence[int]
) -> Element:
    """RFC 9591 ``compute_group_commitment``: Σ (D_i + rho_i·E_i).

    ``binding_factors`` is aligned with ``commitments``. One variable-base
    scalar multiplication and two additions per signer; libsodium exposes no
    multi-scalar multiplication, so this is the minimum with its API.
    """
    add = group.add
    mult = group.mult
    total = group.IDENTITY_ENCODING
    for c, rho in zip(commitments, binding_factors, strict=True):
        total = add(add(total, c.hiding), mult(c.binding, rho))
    return group.to_element(total, name="group commitment")


def compute_challenge(group_commitment: Element, verifying_key: Element, message: bytes) -> int:
    """RFC 9591 ``compute_challenge``: H2(R || PK || msg)."""
    return h2(bytes(group_commitment) + bytes(verifying_key) + message)


def prepare_signing(package: SigningPackage, verifying_key: Element | bytes) -> SigningContext:
    """Derive binding factors, group commitment and challenge for ``package`` once."""
    if not isinstance(package, SigningPackage):
        raise InvalidInput(f"expected a SigningPackage, got {type(package).__name__}")
    key = group.deserialize_element(verifying_key, name="verifying key")
    factors = tuple(
        h1(rho) for rho in binding_factor_inputs(key, package.commitments, package.message)
    )
    commitment = compute_group_commitment(package.commitments, factors)
    challenge = compute_challenge(commitment, key, package.message)
    return SigningContext(package, key, factors, commitment, challenge)


def _context_for(
    package_or_context: SigningPackage | SigningContext, verifying_key: Element
) -> SigningContext:
    if isinstance(package_or_context, SigningContext):
        if package_or_context.verifying_key != verifying_key:
            raise CryptoError("signing context was prepared for a different group verifying key")
        return package_or_context
    return prepare_signing(package_or_context, verifying_key)


# --- Round one -----------------------------------------------------------------


def commit(key_package: KeyPackage, rng: RandomSource) -> tuple[SigningNonces, SigningCommitments]:
    """RFC 9591 ``commit``: two hedged nonces and their commitments."""
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    if key_package.is_single_signer:
        raise InvalidInput(
            "a 1-of-1 key signs with plain Ed25519 (aura_core.crypto.sign_single), not FROST"
        )
    hiding = nonce_generate(key_package.signing_share, rng)
    binding = nonce_generate(key_package.signing_share, rng)
    hiding_point = group.base_mult(hiding)
    binding_point = group.base_mult(binding)
    commitments = SigningCommitments(
        key_package.identifier,
        group.to_element(hiding_point, name="hiding nonce commitment"),
        group.to_element(binding_point, name="binding nonce commitment"),
    )
    return SigningNonces(hiding, binding, commitments), commitments


# --- Round two -----------------------------------------------------------------


def sign(
    package_or_context: SigningPackage | SigningContext,
    nonces: SigningNonces,
    key_package: KeyPackage,
) -> SignatureShare:
    """RFC 9591 ``sign``: this participant's signature share.

    Checks that the package contains this participant's own commitment
    unchanged and enough signers for the key's threshold.
    """
    if not isinstance(key_package, KeyPackage):
        raise InvalidInput(f"expected a KeyPackage, got {type(key_package).__name__}")
    if not isinstance(nonces, SigningNonces):
        raise InvalidInput(f"expected SigningNonces, got {type(nonces).__name__}")
    if key_package.is_single_signer:
        raise InvalidInput(
            "a 1-of-1 key signs with plain Ed25519 (aura_core.crypto.sign_single), not FROST"
        )
    context = _context_for(package_or_context, key_package.verifying_key)
    package = context.package
    me = key_package.identifier
    if nonces.commitments.identifier != me:
        raise InvalidInput(
            f"nonces belong to participant {nonces.commitments.identifier}, "
            f"key package to participant {me}"
        )
    if len(package.commitments) < key_package.min_signers:
        raise InvalidInput(
            f"signing package has {len(package.commitments)} signers; "
            f"this key needs at least {key_package.min_signers}"
        )
    identifiers = package.identifiers
    position = _index_of(identifiers, me)
    if position is None:
        raise InvalidInput(f"signing package does not contain participant {me}'s commitment")
    if package.commitments[position] != nonces.commitments:
        raise CryptoError(
            f"signing package commitment for participant {me} does not match its nonces"
        )
    rho = context.binding_factors[position]
    lambda_i = derive_interpolating_value(identifiers, me)
    z = (
        nonces.hiding
        + nonces.binding * rho
        + lambda_i * key_package.signing_share * context.challenge
    ) % ORDER
    return SignatureShare(me, z)


def _index_of(identifiers: Sequence[int], identifier: int) -> int | None:
    # identifiers are sorted ascending: bisect.
    lo, hi = 0, len(identifiers)
    while lo < hi:
        mid = (lo + hi) // 2
        if identifiers[mid] < identifier:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(identifiers) and identifiers[lo] == identifier:
        return lo
    return None


# --- Aggregation -----------------------------------------------------------------


def verify_signature_share(
    package_or_context: SigningPackage | SigningContext,
    share: SignatureShare,
    public_key_package: PublicKeyPackage,
) -> bool:
    """RFC 9591 ``verify_signature_share``: z_i·B == D_i + rho_i·E_i + (c·lambda_i)·PK_i."""
    context = _context_for(package_or_context, public_key_package.verifying_key)
    identifiers = context.package.identifiers
    position = _index_of(identifiers, share.identifier)
    if position is None:
        raise InvalidInput(f"invalid participant: {share.identifier} is not in the signing package")
    verifying_share = public_key_package.verifying_share(share.identifier)
    commitment = context.package.commitments[position]
    rho = context.binding_factors[position]
    lambda_i = derive_interpolating_value(identifiers, share.identifier)
    left = group.base_mult(share.share)
    commitment_share = group.add(commitment.hiding, group.mult(commitment.binding, rho))
    right = group.add(
        commitment_share, group.mult(verifying_share, context.challenge * lambda_i % ORDER)
    )
    return left == right


def _check_shares(
    context: SigningContext,
    shares: Iterable[SignatureShare],
    public_key_package: PublicKeyPackage,
) -> list[SignatureShare]:
    identifiers = context.package.identifiers
    expected = set(identifiers)
    by_id: dict[int, SignatureShare] = {}
    for share in shares:
        if not isinstance(share, SignatureShare):
            raise InvalidInput(f"expected SignatureShare, got {type(share).__name__}")
        if share.identifier in by_id:
            raise InvalidInput(f"two signature shares from participant {share.identifier}")
        if share.identifier not in expected:
            raise InvalidInput(
                f"signature share from participant {share.identifier}, "
                "who is not in the signing package"
            )
        by_id[share.identifier] = share
    missing = sorted(expected - by_id.keys())
    if missing:
        raise InvalidInput(
            "missing signature share(s) from participant(s) " + ", ".join(map(str, missing))
        )
    for identifier in identifiers:
        if not public_key_package.has(identifier):
            raise InvalidInput(f"participant {identifier} is not in the public key package")
    if len(identifiers) < public_key_package.min_signers:
        raise InvalidInput(
            f"{len(identifiers)} signers; the key needs at least {public_key_package.min_signers}"
        )
    return [by_id[i] for i in identifiers]


def aggregate(
    package_or_context: SigningPackage | SigningContext,
    shares: Iterable[SignatureShare],
    public_key_package: PublicKeyPackage,
) -> bytes:
    """RFC 9591 ``aggregate`` with verification and identifiable abort.

    Returns the 64-byte Ed25519 signature ``R || z``. If it does not verify
    under the group key, every share is checked and
    :class:`~aura_core.crypto.identifiable_abort.InvalidSignatureShares`
    names the participants whose shares are invalid.
    """
    if not isinstance(public_key_package, PublicKeyPackage):
        raise InvalidInput(f"expected a PublicKeyPackage, got {type(public_key_package).__name__}")
    context = _context_for(package_or_context, public_key_package.verifying_key)
    ordered = _check_shares(context, shares, public_key_package)
    z = sum(s.share for s in ordered) % ORDER
    signature = bytes(context.group_commitment) + z.to_bytes(32, "little")
    if _verify_prevalidated(context.verifying_key, context.package.message, signature):
        return signature
    culprits = [
        s.identifier for s in ordered if not verify_signature_share(context, s, public_key_package)
    ]
    if not culprits:
        raise CryptoError(
            "aggregate signature is invalid although every share verifies: "
            "the public key package is inconsistent with the group key"
        )
    raise InvalidSignatureShares(culprits)


def _verify_prevalidated(verifying_key: Element, message: bytes, signature: bytes) -> bool:
    """RFC 8032 verification for a key and R already known to be prime-order points.

    libsodium checks ``z·B - c·PK == R`` without the cofactor; for R and PK in
    the prime-order subgroup that is equivalent to the cofactored equation
    RFC 9591 requires.
    """
    try:
        _sodium.crypto_sign_open(signature + message, bytes(verifying_key))
    except _nacl_exc.BadSignatureError:
        return False
    return True

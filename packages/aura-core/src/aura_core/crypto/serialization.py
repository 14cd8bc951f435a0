"""Canonical DAG-CBOR byte forms of threshold-signature values and messages.

Every value is a map with a ``type`` string naming it (so a share can never
be decoded as another message) plus its fields. Scalars and identifiers are
RFC 9591 ``SerializeScalar`` bytes (32, little-endian), elements are
``SerializeElement`` bytes (32), counts are integers.

``from_bytes`` is strict: it rejects wrong types, missing or extra fields,
wrong lengths, non-canonical scalars, invalid or identity points, values the
type's own checks refuse (e.g. a key package whose share does not match its
verifying share), and any byte string that is not *the* canonical encoding
of the value it decodes to. All of these raise
:class:`~aura_core.errors.InvalidEncoding` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aura_core import dag_cbor
from aura_core.crypto import ed25519_group as group
from aura_core.crypto.dkg import DkgRound1Package, DkgRound2Package, ProofOfKnowledge
from aura_core.crypto.frost import SignatureShare, SigningCommitments, SigningPackage
from aura_core.crypto.keys import KeyPackage, PublicKeyPackage, SecretShare
from aura_core.crypto.participants import MAX_PARTICIPANTS, check_identifier
from aura_core.crypto.refresh import RefreshCommitment, RefreshShare
from aura_core.crypto.repair import RepairDelta, RepairSigma
from aura_core.crypto.reshare import ReshareCommitment, ReshareShare
from aura_core.crypto.vss import VssCommitment
from aura_core.errors import AuraError, InvalidEncoding, InvalidInput

__all__ = ["TYPE_NAMES", "from_bytes", "to_bytes"]

T = TypeVar("T")

# --- field codecs: (to CBOR value, from CBOR value) -------------------------------


def _enc_scalar(value: int) -> bytes:
    return group.serialize_scalar(value)


def _dec_scalar(value: Any, name: str) -> int:
    return group.deserialize_scalar(value, name=name)


def _dec_identifier(value: Any, name: str) -> int:
    scalar = group.deserialize_scalar(value, name=name)
    if scalar == 0:
        raise InvalidEncoding(f"{name} must be a nonzero scalar")
    return check_identifier(scalar, name=name)


def _dec_element(value: Any, name: str) -> group.Element:
    return group.deserialize_element(value, name=name)


def _dec_count(value: Any, name: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_PARTICIPANTS:
        raise InvalidEncoding(f"{name} must be an integer in [1, {MAX_PARTICIPANTS}]")
    return value


def _dec_bytes(value: Any, name: str) -> bytes:
    if type(value) is not bytes:
        raise InvalidEncoding(f"{name} must be a byte string")
    return value


def _dec_list(value: Any, name: str) -> list[Any]:
    if type(value) is not list:
        raise InvalidEncoding(f"{name} must be an array")
    if len(value) > MAX_PARTICIPANTS:
        raise InvalidEncoding(f"{name} has more than {MAX_PARTICIPANTS} entries")
    return value


def _dec_elements(value: Any, name: str) -> tuple[group.Element, ...]:
    return tuple(
        _dec_element(item, f"{name}[{j}]") for j, item in enumerate(_dec_list(value, name))
    )


def _enc_elements(values: tuple[group.Element, ...]) -> list[bytes]:
    return [bytes(v) for v in values]


# --- per-type layouts ---------------------------------------------------------------

Field = tuple[str, Callable[[Any], Any], Callable[[Any, str], Any]]


def _scalar_field(name: str) -> Field:
    return (name, _enc_scalar, _dec_scalar)


def _identifier_field(name: str) -> Field:
    return (name, _enc_scalar, _dec_identifier)


def _element_field(name: str) -> Field:
    return (name, bytes, _dec_element)


def _count_field(name: str) -> Field:
    return (name, int, _dec_count)


def _share_table_enc(table: tuple[tuple[int, group.Element], ...]) -> list[list[bytes]]:
    return [[_enc_scalar(i), bytes(e)] for i, e in table]


def _share_table_dec(value: Any, name: str) -> tuple[tuple[int, group.Element], ...]:
    entries = []
    for j, item in enumerate(_dec_list(value, name)):
        if type(item) is not list or len(item) != 2:
            raise InvalidEncoding(f"{name}[{j}] must be a pair [identifier, element]")
        entries.append(
            (
                _dec_identifier(item[0], f"{name}[{j}] identifier"),
                _dec_element(item[1], f"{name}[{j}]"),
            )
        )
    return tuple(entries)


def _commitments_enc(items: tuple[SigningCommitments, ...]) -> list[dict[str, Any]]:
    return [_to_map(c, include_type=False) for c in items]


def _commitments_dec(value: Any, name: str) -> tuple[SigningCommitments, ...]:
    return tuple(
        _from_map(SigningCommitments, item, f"{name}[{j}]", expect_type=False)
        for j, item in enumerate(_dec_list(value, name))
    )


def _vss_enc(commitment: VssCommitment) -> list[bytes]:
    return _enc_elements(commitment.coefficients)


def _vss_dec(value: Any, name: str) -> VssCommitment:
    elements = _dec_elements(value, name)
    if not elements:
        raise InvalidEncoding(f"{name} has no coefficients")
    return VssCommitment(elements)


def _proof_enc(proof: ProofOfKnowledge) -> bytes:
    return proof.to_bytes()


def _proof_dec(value: Any, name: str) -> ProofOfKnowledge:
    raw = _dec_bytes(value, name)
    if len(raw) != 64:
        raise InvalidEncoding(f"{name} must be 64 bytes, got {len(raw)}")
    return ProofOfKnowledge(
        _dec_element(raw[:32], f"{name} R"), _dec_scalar(raw[32:], f"{name} response")
    )


_LAYOUTS: dict[type, tuple[str, tuple[Field, ...]]] = {
    KeyPackage: (
        "aura.frost.key_package.v1",
        (
            _identifier_field("identifier"),
            _scalar_field("signing_share"),
            _element_field("verifying_share"),
            _element_field("verifying_key"),
            _count_field("min_signers"),
        ),
    ),
    PublicKeyPackage: (
        "aura.frost.public_key_package.v1",
        (
            ("verifying_shares", _share_table_enc, _share_table_dec),
            _element_field("verifying_key"),
            _count_field("min_signers"),
        ),
    ),
    SecretShare: (
        "aura.frost.secret_share.v1",
        (
            _identifier_field("identifier"),
            _scalar_field("signing_share"),
            ("commitment", _vss_enc, _vss_dec),
        ),
    ),
    SigningCommitments: (
        "aura.frost.signing_commitments.v1",
        (
            _identifier_field("identifier"),
            _element_field("hiding"),
            _element_field("binding"),
        ),
    ),
    SigningPackage: (
        "aura.frost.signing_package.v1",
        (
            ("commitments", _commitments_enc, _commitments_dec),
            ("message", bytes, _dec_bytes),
        ),
    ),
    SignatureShare: (
        "aura.frost.signature_share.v1",
        (_identifier_field("identifier"), _scalar_field("share")),
    ),
    DkgRound1Package: (
        "aura.frost.dkg.round1.v1",
        (
            _identifier_field("sender"),
            ("commitment", _vss_enc, _vss_dec),
            ("proof_of_knowledge", _proof_enc, _proof_dec),
        ),
    ),
    DkgRound2Package: (
        "aura.frost.dkg.round2.v1",
        (
            _identifier_field("sender"),
            _identifier_field("recipient"),
            _scalar_field("signing_share"),
        ),
    ),
    RefreshCommitment: (
        "aura.frost.refresh.commitment.v1",
        (_identifier_field("sender"), ("coefficients", _enc_elements, _dec_elements)),
    ),
    RefreshShare: (
        "aura.frost.refresh.share.v1",
        (
            _identifier_field("sender"),
            _identifier_field("recipient"),
            _scalar_field("signing_share"),
        ),
    ),
    ReshareCommitment: (
        "aura.frost.reshare.commitment.v1",
        (_identifier_field("sender"), ("commitment", _vss_enc, _vss_dec)),
    ),
    ReshareShare: (
        "aura.frost.reshare.share.v1",
        (
            _identifier_field("sender"),
            _identifier_field("recipient"),
            _scalar_field("signing_share"),
        ),
    ),
    RepairDelta: (
        "aura.frost.repair.delta.v1",
        (
            _identifier_field("sender"),
            _identifier_field("recipient"),
            _identifier_field("target"),
            _scalar_field("value"),
        ),
    ),
    RepairSigma: (
        "aura.frost.repair.sigma.v1",
        (_identifier_field("sender"), _identifier_field("target"), _scalar_field("value")),
    ),
}

TYPE_NAMES: dict[type, str] = {cls: name for cls, (name, _) in _LAYOUTS.items()}
"""The ``type`` string each serializable class is tagged with."""


def _to_map(value: object, *, include_type: bool = True) -> dict[str, Any]:
    try:
        type_name, fields = _LAYOUTS[type(value)]
    except KeyError:
        raise InvalidInput(f"cannot serialize {type(value).__name__}") from None
    out: dict[str, Any] = {"type": type_name} if include_type else {}
    for name, to_cbor, _ in fields:
        out[name] = to_cbor(getattr(value, name))
    return out


def _from_map(cls: type[T], value: Any, where: str, *, expect_type: bool = True) -> T:
    type_name, fields = _LAYOUTS[cls]
    if type(value) is not dict:
        raise InvalidEncoding(f"{where} must be a map")
    expected = {name for name, _, _ in fields}
    if expect_type:
        expected.add("type")
        if value.get("type") != type_name:
            raise InvalidEncoding(f"{where} does not carry the type tag {type_name!r}")
    missing = sorted(expected - value.keys())
    if missing:
        raise InvalidEncoding(f"{where} is missing field(s): {', '.join(missing)}")
    extra = sorted(value.keys() - expected)
    if extra:
        raise InvalidEncoding(f"{where} has unexpected field(s): {', '.join(extra)}")
    kwargs = {name: from_cbor(value[name], f"{where}.{name}") for name, _, from_cbor in fields}
    try:
        return cls(**kwargs)
    except InvalidEncoding:
        raise
    except AuraError as exc:
        raise InvalidEncoding(f"{where}: {exc.message}") from exc


def to_bytes(value: object) -> bytes:
    """Canonical DAG-CBOR bytes of a key package, public key package or protocol message."""
    return dag_cbor.encode(_to_map(value))


def from_bytes(data: bytes, cls: type[T]) -> T:
    """Strictly decode ``data`` as ``cls``; raises only :class:`InvalidEncoding`.

    ``cls`` is one of the classes in :data:`TYPE_NAMES`.
    """
    if cls not in _LAYOUTS:
        raise InvalidInput(f"cannot deserialize {getattr(cls, '__name__', cls)!r}")
    if not isinstance(data, bytes):
        raise InvalidEncoding(f"{cls.__name__} encoding must be bytes")
    result = _from_map(cls, dag_cbor.decode(data, allow_floats=False), cls.__name__)
    # One value, one spelling: e.g. verifying shares listed out of order decode
    # to the same package, so such bytes are refused rather than accepted.
    if to_bytes(result) != data:
        raise InvalidEncoding(f"{cls.__name__} bytes are not the canonical encoding of the value")
    return result

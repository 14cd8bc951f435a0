"""Threshold signatures for Aura: FROST(Ed25519, SHA-512) and its key management.

Pure: no OS randomness, clock or I/O. Functions that need randomness take a
:class:`RandomSource` (anything with ``random_bytes(n)``). Scalars are ints
in [0, L); group elements are :class:`Element` (validated 32-byte encodings).

* signing (RFC 9591): :func:`commit`, :func:`sign`, :func:`aggregate`,
  :func:`prepare_signing`, :func:`verify_signature_share`;
* plain Ed25519: :func:`verify_signature`, :func:`sign_single` (1-of-1 keys);
* keys: :func:`trusted_dealer_keygen`, the DKG (:func:`dkg_round1`,
  :func:`dkg_round2`, :func:`dkg_finalize`), refresh, repair and reshare;
* threshold key derivation (a secret any signing set re-derives):
  :func:`derivation_share`, :func:`combine_derivation`, :func:`derive_alone`;
* canonical DAG-CBOR bytes of all of these: :func:`to_bytes`, :func:`from_bytes`.
"""

from aura_core.crypto.dealer import trusted_dealer_keygen
from aura_core.crypto.dkg import (
    DkgRound1Package,
    DkgRound1Secret,
    DkgRound2Package,
    DkgRound2Secret,
    ProofOfKnowledge,
    dkg_finalize,
    dkg_round1,
    dkg_round2,
    prove_knowledge,
    verify_proof_of_knowledge,
)
from aura_core.crypto.ed25519 import sign_single, verify_signature
from aura_core.crypto.ed25519_group import ORDER, Element
from aura_core.crypto.frost import (
    SignatureShare,
    SigningCommitments,
    SigningContext,
    SigningNonces,
    SigningPackage,
    aggregate,
    binding_factor_inputs,
    commit,
    compute_binding_factors,
    compute_challenge,
    compute_group_commitment,
    encode_group_commitment_list,
    nonce_generate,
    prepare_signing,
    sign,
    verify_signature_share,
)
from aura_core.crypto.identifiable_abort import (
    InvalidSignatureShares,
    KeyGenerationAborted,
    ParticipantMisbehaved,
    ShareComplaint,
)
from aura_core.crypto.keys import (
    KeyPackage,
    PublicKeyPackage,
    SecretShare,
    key_package_from_secret_share,
)
from aura_core.crypto.random_source import RandomSource
from aura_core.crypto.refresh import (
    RefreshCommitment,
    RefreshSecret,
    RefreshShare,
    refresh_finalize,
    refresh_round1,
)
from aura_core.crypto.repair import (
    RepairDelta,
    RepairSigma,
    repair_share_step_1,
    repair_share_step_2,
    repair_share_step_3,
)
from aura_core.crypto.reshare import (
    ReshareCommitment,
    ReshareShare,
    reshare_finalize,
    reshare_round1,
)
from aura_core.crypto.serialization import from_bytes, to_bytes
from aura_core.crypto.shamir import derive_interpolating_value
from aura_core.crypto.threshold_derivation import (
    DERIVED_SECRET_BYTES,
    DerivationShare,
    combine_derivation,
    derivation_point,
    derivation_share,
    derive_alone,
    verify_derivation_share,
)
from aura_core.crypto.vss import VssCommitment, vss_commit, vss_verify

__all__ = [
    "DERIVED_SECRET_BYTES",
    "ORDER",
    "DerivationShare",
    "DkgRound1Package",
    "DkgRound1Secret",
    "DkgRound2Package",
    "DkgRound2Secret",
    "Element",
    "InvalidSignatureShares",
    "KeyGenerationAborted",
    "KeyPackage",
    "ParticipantMisbehaved",
    "ProofOfKnowledge",
    "PublicKeyPackage",
    "RandomSource",
    "RefreshCommitment",
    "RefreshSecret",
    "RefreshShare",
    "RepairDelta",
    "RepairSigma",
    "ReshareCommitment",
    "ReshareShare",
    "SecretShare",
    "ShareComplaint",
    "SignatureShare",
    "SigningCommitments",
    "SigningContext",
    "SigningNonces",
    "SigningPackage",
    "VssCommitment",
    "aggregate",
    "binding_factor_inputs",
    "combine_derivation",
    "commit",
    "compute_binding_factors",
    "compute_challenge",
    "compute_group_commitment",
    "derivation_point",
    "derivation_share",
    "derive_alone",
    "derive_interpolating_value",
    "dkg_finalize",
    "dkg_round1",
    "dkg_round2",
    "encode_group_commitment_list",
    "from_bytes",
    "key_package_from_secret_share",
    "nonce_generate",
    "prepare_signing",
    "prove_knowledge",
    "refresh_finalize",
    "refresh_round1",
    "repair_share_step_1",
    "repair_share_step_2",
    "repair_share_step_3",
    "reshare_finalize",
    "reshare_round1",
    "sign",
    "sign_single",
    "to_bytes",
    "trusted_dealer_keygen",
    "verify_derivation_share",
    "verify_proof_of_knowledge",
    "verify_signature",
    "verify_signature_share",
    "vss_commit",
    "vss_verify",
]

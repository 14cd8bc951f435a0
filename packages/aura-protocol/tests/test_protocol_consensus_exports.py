"""The public API of aura_protocol.consensus is exactly what __all__ names."""

from __future__ import annotations

import aura_protocol
import aura_protocol.consensus as consensus


def test_every_export_exists_and_nothing_private_leaks() -> None:
    assert sorted(consensus.__all__) == sorted(set(consensus.__all__))
    for name in consensus.__all__:
        assert hasattr(consensus, name), name
        assert not name.startswith("_")


def test_core_types_are_reachable_from_the_package() -> None:
    for name in ("Witness", "Initiator", "CommitFact", "EquivocationProof", "ConsensusId"):
        assert name in consensus.__all__
    assert aura_protocol.consensus is consensus

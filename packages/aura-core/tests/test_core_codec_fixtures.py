"""The IPLD codec fixtures: every DAG-CBOR file round-trips byte for byte and
hashes to the sha2-256 CID in its name; negative fixtures are refused.

Origin and license of the files: vectors/dag-cbor-fixtures/SOURCE.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura_core import dag_cbor
from aura_core.content_id import (
    CID,
    CODEC_DAG_CBOR,
    MULTIHASH_SHA2_256,
    content_id_of_bytes,
    verify_content_id,
)
from aura_core.errors import InvalidEncoding

FIXTURES = Path(__file__).parent / "vectors" / "dag-cbor-fixtures"
POSITIVE = sorted((FIXTURES / "fixtures").glob("*/*.dag-cbor"))
NEGATIVE = [
    case
    for path in sorted((FIXTURES / "negative-fixtures" / "dag-cbor" / "decode").glob("*.json"))
    for case in json.loads(path.read_text())
]


def test_all_fixtures_are_present() -> None:
    assert len(POSITIVE) == 128
    assert len(NEGATIVE) >= 1


@pytest.mark.parametrize("path", POSITIVE, ids=[p.parent.name for p in POSITIVE])
def test_fixture_round_trips_and_matches_its_cid(path: Path) -> None:
    data = path.read_bytes()
    value = dag_cbor.decode(data)
    assert dag_cbor.encode(value) == data
    named = CID.parse(path.stem)
    assert named.version == 1
    assert named.codec == CODEC_DAG_CBOR
    assert named.hash_code == MULTIHASH_SHA2_256
    assert content_id_of_bytes(data, hash_code=MULTIHASH_SHA2_256) == named
    assert str(named) == path.stem
    verify_content_id(named, data)


@pytest.mark.parametrize("case", NEGATIVE, ids=[c["name"] for c in NEGATIVE])
def test_negative_fixture_is_refused(case: dict[str, str]) -> None:
    with pytest.raises(InvalidEncoding, match="duplicate map key"):
        dag_cbor.decode(bytes.fromhex(case["hex"]))


SINGLE_LINKS = [
    p for p in POSITIVE if p.parent.name.startswith("cid-") and "of" not in p.parent.name
]


@pytest.mark.parametrize("path", SINGLE_LINKS, ids=[p.parent.name for p in SINGLE_LINKS])
def test_link_fixture_holds_the_cid_its_name_spells(path: Path) -> None:
    """``cid-<string>`` fixtures hold one link, spelt in base32, base58btc or as CIDv0."""
    link = dag_cbor.decode(path.read_bytes())
    assert isinstance(link, CID)
    assert CID.parse(path.parent.name.removeprefix("cid-")) == link
    assert CID.parse(str(link)) == link
    assert CID.from_bytes(bytes(link)) == link


def test_link_fixtures_cover_both_versions_and_several_codecs() -> None:
    links = [dag_cbor.decode(p.read_bytes()) for p in SINGLE_LINKS]
    assert {link.version for link in links} == {0, 1}
    assert len({link.codec for link in links}) >= 4
    assert len({link.hash_code for link in links}) >= 3

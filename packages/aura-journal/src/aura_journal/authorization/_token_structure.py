"""Read the structure of a Biscuit token from its protobuf bytes.

biscuit-python verifies signatures and evaluates Datalog but exposes a
block's content only as printed source, in which strings are not escaped
(so it cannot be parsed back reliably). Aura needs exact answers before
evaluation: which facts the authority block asserts, whether a block carries
rules, how many predicates a check joins. This module decodes the few
protobuf messages involved (Biscuit format v3, ``schema.proto``) and applies
:class:`TokenLimits`. It runs only on tokens whose signatures biscuit has
already verified, but still treats every byte as hostile.
"""

from __future__ import annotations

import attrs

from aura_core.errors import AuthorizationDenied
from aura_journal.authorization.limits import TokenLimits

__all__ = ["CheckShape", "TokenStructure", "read_token_structure"]

# Biscuit's default symbol table (indexes 0..27); a token's own symbols start at 1024.
_DEFAULT_SYMBOLS = (
    "read", "write", "resource", "operation", "right", "time", "role", "owner",
    "tenant", "namespace", "user", "team", "service", "admin", "email", "group",
    "member", "ip_address", "client", "client_ip", "domain", "path", "version",
    "cluster", "node", "hostname", "nonce", "query",
)  # fmt: skip
_SYMBOL_OFFSET = 1024

REQUEST_PREDICATES = frozenset({"time", "operation", "context", "resource"})
"""Facts the authorizer asserts exactly once per request (so joining them is free)."""

_AUTHORITY_FACTS = {"authority": ("str",), "epoch": ("int",), "capability": ("str", "str")}

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5

_CHECK_KINDS = {0: "check if", 1: "check all", 2: "reject if"}


class _Malformed(Exception):
    """Internal: the bytes are not the protobuf shape we expect."""


Term = str | int | bytes | bool


@attrs.frozen
class CheckShape:
    """One check of one block, reduced to what decides its cost and its label."""

    block: int
    index: int
    kind: str
    predicates: tuple[tuple[str, ...], ...]
    """Body predicate names, one tuple per query."""

    @property
    def label(self) -> str:
        """A name for the check that reveals nothing of its values."""
        names = {name for query in self.predicates for name in query}
        if len(self.predicates) == 1 and len(names) == 1:
            only = next(iter(names))
            return {
                "time": "expiry",
                "operation": "operation",
                "context": "context",
                "resource": "resource",
            }.get(only, "condition")
        return "condition"


@attrs.frozen
class TokenStructure:
    """The decoded, limit-checked structure of a token."""

    authority_facts: tuple[tuple[str, tuple[Term, ...]], ...]
    checks: tuple[CheckShape, ...]
    block_count: int

    def check_at(self, block: int, index: int) -> CheckShape | None:
        for shape in self.checks:
            if shape.block == block and shape.index == index:
                return shape
        return None


def _deny(reason: str) -> AuthorizationDenied:
    return AuthorizationDenied(f"token shape: {reason}")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos < len(data) and data[pos] < 0x80:  # fast path: one-byte varint
        return data[pos], pos + 1
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise _Malformed("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _Malformed("varint longer than 10 bytes")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split one message into (field number, wire type, value)."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Malformed("truncated length-delimited field")
            out.append((number, wire, data[pos : pos + length]))
            pos += length
        elif wire == _FIXED64:
            pos += 8
            if pos > len(data):
                raise _Malformed("truncated fixed64")
            out.append((number, wire, 0))
        elif wire == _FIXED32:
            pos += 4
            if pos > len(data):
                raise _Malformed("truncated fixed32")
            out.append((number, wire, 0))
        else:
            raise _Malformed(f"unsupported wire type {wire}")
    return out


def _bytes_field(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise _Malformed("expected a length-delimited field")
    return value


def _int_field(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise _Malformed("expected a varint field")
    return value


def _signed64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


class _Symbols:
    def __init__(self) -> None:
        self.custom: list[str] = []

    def extend(self, names: list[str]) -> None:
        self.custom.extend(names)

    def lookup(self, index: int) -> str:
        if index < len(_DEFAULT_SYMBOLS):
            return _DEFAULT_SYMBOLS[index]
        offset = index - _SYMBOL_OFFSET
        if 0 <= offset < len(self.custom):
            return self.custom[offset]
        raise _Malformed(f"symbol index {index} is not defined")


def _term(data: bytes, symbols: _Symbols) -> Term | None:
    """Decode a TermV2 for a fact; ``None`` marks a type facts may not carry here."""
    fields = _fields(data)
    if len(fields) != 1:
        raise _Malformed("a term must hold exactly one value")
    number, _wire, value = fields[0]
    if number == 2:
        return _signed64(_int_field(value))
    if number == 3:
        return symbols.lookup(_int_field(value))
    if number == 5:
        return _bytes_field(value)
    if number == 6:
        return bool(_int_field(value))
    if number in (1, 4, 7, 8, 9, 10):
        return None
    raise _Malformed(f"unknown term field {number}")


def _predicate(data: bytes, symbols: _Symbols) -> tuple[str, list[bytes]]:
    name: str | None = None
    terms: list[bytes] = []
    for number, _wire, value in _fields(data):
        if number == 1:
            name = symbols.lookup(_int_field(value))
        elif number == 2:
            terms.append(_bytes_field(value))
        else:
            raise _Malformed(f"unknown predicate field {number}")
    if name is None:
        raise _Malformed("predicate without a name")
    return name, terms


def _query(data: bytes, symbols: _Symbols) -> tuple[str, ...]:
    body: list[str] = []
    for number, _wire, value in _fields(data):
        if number == 1:
            _predicate(_bytes_field(value), symbols)  # the query head: validated, unused
        elif number == 2:
            body.append(_predicate(_bytes_field(value), symbols)[0])
        elif number == 3:
            _bytes_field(value)
        elif number == 4:
            raise _deny("scope annotations on checks are not supported")
        else:
            raise _Malformed(f"unknown rule field {number}")
    return tuple(body)


def _check(data: bytes, symbols: _Symbols, block: int, index: int) -> CheckShape:
    queries: list[tuple[str, ...]] = []
    kind = 0
    for number, _wire, value in _fields(data):
        if number == 1:
            queries.append(_query(_bytes_field(value), symbols))
        elif number == 2:
            kind = _int_field(value)
            if kind not in _CHECK_KINDS:
                raise _Malformed(f"unknown check kind {kind}")
        else:
            raise _Malformed(f"unknown check field {number}")
    return CheckShape(block, index, _CHECK_KINDS[kind], tuple(queries))


def _block(
    data: bytes, symbols: _Symbols, block: int, limits: TokenLimits
) -> tuple[list[tuple[str, tuple[Term, ...]]], list[CheckShape]]:
    fields = _fields(data)
    symbols.extend([_bytes_field(v).decode("utf-8") for n, _w, v in fields if n == 1])
    facts: list[tuple[str, tuple[Term, ...]]] = []
    checks: list[CheckShape] = []
    for number, _wire, value in fields:
        if number in (1, 2, 3):  # symbols (read above), context text, datalog version
            continue
        if number == 4:
            name, raw_terms = _predicate(_fields_single(_bytes_field(value)), symbols)
            facts.append((name, tuple(_fact_term(raw, symbols, block) for raw in raw_terms)))
        elif number == 5:
            raise _deny(f"block {block} carries a rule; Aura tokens carry only facts and checks")
        elif number == 6:
            checks.append(_check(_bytes_field(value), symbols, block, len(checks)))
        elif number in (7, 8):
            raise _deny(f"block {block} uses scope annotations, which Aura tokens do not support")
        else:
            raise _Malformed(f"unknown block field {number}")
    if len(checks) > limits.max_checks_per_block:
        raise _deny(f"block {block} has {len(checks)} checks (limit {limits.max_checks_per_block})")
    for shape in checks:
        if len(shape.predicates) > limits.max_queries_per_check:
            raise _deny(
                f"block {block} check {shape.index} has {len(shape.predicates)} queries "
                f"(limit {limits.max_queries_per_check})"
            )
        for query in shape.predicates:
            if len(query) > limits.max_predicates_per_query:
                raise _deny(
                    f"block {block} check {shape.index} joins {len(query)} predicates "
                    f"(limit {limits.max_predicates_per_query})"
                )
            if sum(1 for name in query if name not in REQUEST_PREDICATES) > 1:
                raise _deny(
                    f"block {block} check {shape.index} joins more than one non-request predicate"
                )
    return facts, checks


def _fields_single(data: bytes) -> bytes:
    """FactV2 wraps exactly one PredicateV2 (field 1)."""
    fields = _fields(data)
    if len(fields) != 1 or fields[0][0] != 1:
        raise _Malformed("a fact must hold exactly one predicate")
    return _bytes_field(fields[0][2])


def _fact_term(raw: bytes, symbols: _Symbols, block: int) -> Term:
    term = _term(raw, symbols)
    if term is None:
        raise _deny(f"block {block} has a fact with a variable, date, set, null, array or map term")
    return term


def _signed_block(data: bytes, index: int) -> bytes:
    block: bytes | None = None
    for number, _wire, value in _fields(data):
        if number == 1:
            block = _bytes_field(value)
        elif number == 4:
            raise _deny(f"block {index} is a third-party block, which Aura tokens do not accept")
        elif number not in (2, 3, 5):
            raise _Malformed(f"unknown signed-block field {number}")
    if block is None:
        raise _Malformed(f"signed block {index} has no content")
    return block


def _check_authority_facts(facts: list[tuple[str, tuple[Term, ...]]], limits: TokenLimits) -> None:
    counts = {"authority": 0, "epoch": 0, "capability": 0}
    for name, terms in facts:
        expected = _AUTHORITY_FACTS.get(name)
        if expected is None:
            raise _deny(f"the authority block asserts a {name!r} fact, which Aura tokens may not")
        shape = tuple(
            "int" if type(t) is int else "str" if type(t) is str else "other" for t in terms
        )
        if shape != expected:
            raise _deny(f"the authority block's {name!r} fact has the wrong terms")
        counts[name] += 1
    if counts["authority"] != 1 or counts["epoch"] != 1:
        raise _deny("the authority block must assert exactly one authority and one epoch")
    if counts["capability"] == 0:
        raise _deny("the authority block grants no capability")
    if counts["capability"] > limits.max_grants:
        raise _deny(
            f"the authority block has {counts['capability']} grants (limit {limits.max_grants})"
        )


def read_token_structure(data: bytes, limits: TokenLimits) -> TokenStructure:
    """Decode and limit-check a serialized Biscuit; raise ``AuthorizationDenied`` on violations."""
    if len(data) > limits.max_bytes:
        raise _deny(f"token is {len(data)} bytes (limit {limits.max_bytes})")
    try:
        authority: list[bytes] = []
        attenuations: list[bytes] = []
        for number, _wire, value in _fields(data):
            if number == 1:
                raise _deny("root key ids are not used by Aura tokens")
            if number == 2:
                authority.append(_signed_block(_bytes_field(value), 0))
            elif number == 3:
                attenuations.append(_signed_block(_bytes_field(value), len(attenuations) + 1))
            elif number != 4:
                raise _Malformed(f"unknown token field {number}")
        if len(authority) != 1:
            raise _Malformed("token must have exactly one authority block")
        blocks = authority + attenuations
        if len(blocks) > limits.max_blocks:
            raise _deny(f"token has {len(blocks)} blocks (limit {limits.max_blocks})")
        symbols = _Symbols()
        authority_facts: list[tuple[str, tuple[Term, ...]]] = []
        checks: list[CheckShape] = []
        for index, raw in enumerate(blocks):
            facts, block_checks = _block(raw, symbols, index, limits)
            if index == 0:
                _check_authority_facts(facts, limits)
                authority_facts = facts
            elif facts:
                raise _deny(f"attenuation block {index} asserts facts; it may only add checks")
            checks.extend(block_checks)
    except _Malformed as exc:
        raise _deny(f"malformed token ({exc})") from None
    except UnicodeDecodeError:
        raise _deny("malformed token (a symbol is not UTF-8)") from None
    return TokenStructure(tuple(authority_facts), tuple(checks), len(blocks))

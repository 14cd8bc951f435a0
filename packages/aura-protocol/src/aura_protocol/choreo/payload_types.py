"""The value types a choreography's message fields may carry, and their strict checks.

A field is declared ``name: Type``. Built-in types are ``bool``, ``int``
(a u64), ``str`` and ``bytes``; a protocol's own types (``RotationData``)
are registered with a codec that turns a value into canonical DAG-CBOR data
and back, rejecting anything malformed. Generic types (``List<T>``) are not
supported: a field of an unknown type fails when the runtime is built, not
when a message arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from aura_core.errors import AuraError, InvalidEncoding, InvalidInput

__all__ = ["BUILTIN_TYPES", "PayloadType", "PayloadTypes"]

_U64 = 2**64


@attrs.frozen
class PayloadType:
    """How one field type is written (``to_wire``) and strictly read back (``from_wire``)."""

    name: str
    to_wire: Callable[[Any], Any]
    from_wire: Callable[[Any], Any]


def _exact(kind: type, name: str, check: Callable[[Any], bool] = lambda _v: True) -> PayloadType:
    def read(value: Any) -> Any:
        if type(value) is not kind or not check(value):
            raise InvalidEncoding(f"expected a {name}, got {type(value).__name__}")
        return value

    return PayloadType(name, read, read)


BUILTIN_TYPES: Mapping[str, PayloadType] = MappingProxyType(
    {
        "bool": _exact(bool, "bool"),
        "int": _exact(int, "u64 int", lambda v: 0 <= v < _U64),
        "str": _exact(str, "str", lambda v: len(v) <= 65536),
        "bytes": _exact(bytes, "bytes", lambda v: len(v) <= 1 << 20),
    }
)


class PayloadTypes:
    """The built-ins plus a protocol's own types."""

    def __init__(self, extra: Mapping[str, PayloadType] | None = None) -> None:
        self._types = dict(BUILTIN_TYPES)
        for name, kind in (extra or {}).items():
            if not isinstance(kind, PayloadType) or kind.name != name:
                raise InvalidInput(f"payload type {name!r} must be a PayloadType of that name")
            if name in self._types:
                raise InvalidInput(f"payload type {name!r} is already defined")
            self._types[name] = kind

    def get(self, name: str) -> PayloadType:
        kind = self._types.get(name)
        if kind is None:
            raise InvalidInput(
                f"field type {name!r} is not known: register a PayloadType for it "
                f"(built-ins: {sorted(BUILTIN_TYPES)})"
            )
        return kind

    def to_wire(self, type_name: str, value: Any, what: str) -> Any:
        try:
            return self.get(type_name).to_wire(value)
        except AuraError as exc:
            raise InvalidInput(f"{what}: {exc.message}") from None

    def from_wire(self, type_name: str, value: Any, what: str) -> Any:
        try:
            return self.get(type_name).from_wire(value)
        except AuraError as exc:
            raise InvalidEncoding(f"{what}: {exc.message}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InvalidEncoding(f"{what} is malformed ({type(exc).__name__})") from None

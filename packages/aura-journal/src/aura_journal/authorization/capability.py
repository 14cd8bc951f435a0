"""Namespaced capability names (``chat:send``, ``tree:rotate``).

A capability names one operation a token may authorize. The namespace keeps
features from colliding (two features may both have a ``send``), and the
strict spelling keeps names safe to print and to carry as Datalog string
terms.
"""

from __future__ import annotations

import re
from typing import Self

import attrs

from aura_core.errors import InvalidInput

__all__ = ["Capability"]

_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_NAME = re.compile(r"[a-z][a-z0-9_.\-]{0,62}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@attrs.frozen(order=True, repr=False)
class Capability:
    """One namespaced capability: ``namespace:name``."""

    namespace: str = attrs.field()
    name: str = attrs.field()

    @namespace.validator
    def _check_namespace(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not str or not _NAMESPACE.fullmatch(value):
            raise InvalidInput(
                f"capability namespace must match [a-z][a-z0-9_]{{0,31}}, got {_shown(value)}"
            )

    @name.validator
    def _check_name(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not str or not _NAME.fullmatch(value):
            raise InvalidInput(
                f"capability name must match [a-z][a-z0-9_.-]{{0,62}}, got {_shown(value)}"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``namespace:name``; an un-namespaced name is an error."""
        if type(text) is not str:
            raise InvalidInput(f"capability must be a string, got {_shown(text)}")
        namespace, sep, name = text.partition(":")
        if not sep:
            raise InvalidInput(f"capability {_shown(text)} is not namespaced (expected 'ns:name')")
        return cls(namespace, name)

    @classmethod
    def qualify(cls, text: str, namespace: str | None) -> Self:
        """Parse ``text``, putting an un-namespaced name into ``namespace`` when one is given."""
        if type(text) is str and ":" not in text and namespace is not None:
            return cls(namespace, text)
        return cls.parse(text)

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"

    def __repr__(self) -> str:
        return f"Capability('{self}')"

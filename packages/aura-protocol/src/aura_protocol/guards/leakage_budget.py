"""Privacy (leakage) budgets: how much a context may reveal to each class of observer.

Observer classes follow the choreography ``leak`` annotation: ``external``
(anyone on the network path), ``neighbor`` (relays and neighbourhood peers),
``in_group`` (members of the same home or group). A :class:`LeakagePolicy`
gives a per-epoch limit for each class it defines; a send that would leak to a
class with no defined budget is refused, as is one that would overrun it. A
new policy epoch starts every class from zero.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from aura_core.errors import InvalidInput, LeakageBudgetExceeded
from aura_core.identifiers import Epoch
from aura_journal.mpst import OBSERVER_CLASSES

__all__ = ["LeakageBudget", "LeakagePolicy", "ObserverClass"]


class ObserverClass(enum.Enum):
    """Who learns that a message was sent."""

    EXTERNAL = "external"
    NEIGHBOR = "neighbor"
    IN_GROUP = "in_group"

    @classmethod
    def parse(cls, text: str) -> ObserverClass:
        try:
            return cls(text)
        except ValueError:
            raise InvalidInput(
                f"unknown observer class {text!r:.40}; expected one of {sorted(OBSERVER_CLASSES)}"
            ) from None


def _u64(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise InvalidInput(f"LeakageBudget.{attribute.name} must be a u64, got {value!r:.40}")


@attrs.frozen
class LeakageBudget:
    """``spent`` of ``limit`` for one observer class in ``epoch``."""

    observer: ObserverClass = attrs.field(validator=attrs.validators.instance_of(ObserverClass))
    limit: int = attrs.field(validator=_u64)
    spent: int = attrs.field(default=0, validator=_u64)
    epoch: Epoch = attrs.field(default=Epoch(0), validator=attrs.validators.instance_of(Epoch))

    def charge(self, amount: int) -> LeakageBudget:
        """The budget after leaking ``amount`` more; refuses without changing anything."""
        if type(amount) is not int or amount < 1:
            raise InvalidInput(f"a leakage charge must be a positive integer, got {amount!r:.40}")
        if self.spent + amount > self.limit:
            raise LeakageBudgetExceeded(
                f"leakage budget for observer class '{self.observer.value}' exhausted in "
                f"{self.epoch}: {amount} more would exceed {self.spent} of {self.limit}"
            )
        return attrs.evolve(self, spent=self.spent + amount)

    def at_epoch(self, epoch: Epoch) -> LeakageBudget:
        """Seen from ``epoch``: a later epoch starts with nothing spent."""
        if epoch > self.epoch:
            return attrs.evolve(self, spent=0, epoch=epoch)
        return self


def _limits(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInput("LeakagePolicy.limits must map ObserverClass to a limit")
    for key, limit in value.items():
        if not isinstance(key, ObserverClass) or type(limit) is not int or not 0 <= limit < 2**64:
            raise InvalidInput("LeakagePolicy.limits must map ObserverClass to a u64 limit")


@attrs.frozen
class LeakagePolicy:
    """Per-epoch leakage limits by observer class; a class left out has no budget (denies)."""

    limits: Mapping[ObserverClass, int] = attrs.field(
        validator=_limits, converter=lambda m: MappingProxyType(dict(m)), hash=False
    )
    epoch: Epoch = attrs.field(default=Epoch(0), validator=attrs.validators.instance_of(Epoch))

    def budget(
        self, observer: ObserverClass, spent: int, spent_epoch: Epoch
    ) -> LeakageBudget | None:
        """The budget in force given what the ledger holds; ``None`` when undefined."""
        limit = self.limits.get(observer)
        if limit is None:
            return None
        if spent_epoch > self.epoch:
            # The ledger is ahead of this policy (another device moved on): nothing is left
            # until this device learns the new policy.
            return LeakageBudget(observer, limit, limit, spent_epoch)
        return LeakageBudget(observer, limit, spent, spent_epoch).at_epoch(self.epoch)

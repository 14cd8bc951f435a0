"""Finding features: the built-in ones and those other packages register.

Outside packages declare an entry point in the group ``aura.features``::

    [project.entry-points."aura.features"]
    notes = "aura_feature_example:feature"

The object may be a :class:`~aura_agent.feature.Feature` or a callable with
no arguments returning one. Built-in features go through the same checks and
the same ordering, so there is one path for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points

from aura_agent.feature import Feature
from aura_core.errors import InvalidInput

__all__ = ["ENTRY_POINT_GROUP", "discover_features", "feature_from_entry_point", "order_features"]

ENTRY_POINT_GROUP = "aura.features"


def _as_feature(obj: object, origin: str) -> Feature:
    if isinstance(obj, Feature):
        return obj
    if callable(obj):
        try:
            produced = obj()
        except Exception as exc:
            raise InvalidInput(
                f"feature {origin} failed to build: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(produced, Feature):
            return produced
        raise InvalidInput(f"feature {origin} returned {type(produced).__name__}, not a Feature")
    raise InvalidInput(f"feature {origin} is a {type(obj).__name__}, not a Feature or a factory")


def feature_from_entry_point(entry: EntryPoint) -> Feature:
    """Load one ``aura.features`` entry point; its name must equal the feature's name."""
    origin = f"entry point {entry.name!r} ({entry.value})"
    try:
        loaded = entry.load()
    except Exception as exc:
        raise InvalidInput(f"{origin} could not be imported: {type(exc).__name__}: {exc}") from exc
    feature = _as_feature(loaded, origin)
    if feature.name != entry.name:
        raise InvalidInput(f"{origin} provides a feature named {feature.name!r}")
    return feature


def order_features(features: Iterable[Feature]) -> list[Feature]:
    """Dependencies first (stable otherwise); unknown or circular requirements are errors."""
    by_name: dict[str, Feature] = {}
    for feature in features:
        if feature.name in by_name:
            raise InvalidInput(f"two features are named {feature.name!r}")
        by_name[feature.name] = feature
    ordered: list[Feature] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise InvalidInput(
                f"features require each other in a circle: {' -> '.join((*chain, name))}"
            )
        feature = by_name.get(name)
        if feature is None:
            raise InvalidInput(f"feature {chain[-1]!r} requires {name!r}, which is not loaded")
        state[name] = 1
        for required in feature.requires:
            visit(required, (*chain, name))
        state[name] = 2
        ordered.append(feature)

    for name in by_name:
        visit(name, ())
    return ordered


def discover_features(
    builtin: Sequence[Callable[[], Feature]] = (),
    *,
    enabled: Sequence[str] | None = None,
    group: str = ENTRY_POINT_GROUP,
) -> list[Feature]:
    """Built-in features plus every feature registered under ``group``, ordered.

    With ``enabled``, only those names are kept (asking for one that is
    nowhere to be found is an error, so a typo does not pass silently);
    features they require are kept too.
    """
    found: dict[str, Feature] = {}
    for factory in builtin:
        feature = _as_feature(factory, f"built-in {getattr(factory, '__name__', factory)!r}")
        found[feature.name] = feature
    for entry in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        if enabled is not None and entry.name not in enabled and entry.name not in found:
            # Not asked for: do not even import it (it may be broken or slow).
            continue
        if entry.name in found:
            raise InvalidInput(
                f"entry point {entry.name!r} ({entry.value}) clashes with an already loaded feature"
            )
        found[entry.name] = feature_from_entry_point(entry)
    if enabled is None:
        return order_features(found.values())
    missing = [name for name in enabled if name not in found]
    if missing:
        raise InvalidInput(f"features not found: {', '.join(missing)}")
    keep: set[str] = set()
    stack = list(enabled)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        feature = found.get(name)
        if feature is None:
            raise InvalidInput(f"a feature requires {name!r}, which is not loaded")
        stack.extend(feature.requires)
    return order_features(f for f in found.values() if f.name in keep)

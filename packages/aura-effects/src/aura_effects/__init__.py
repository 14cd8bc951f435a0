"""aura_effects — effects layer of the Aura library family."""

__all__: list[str] = []

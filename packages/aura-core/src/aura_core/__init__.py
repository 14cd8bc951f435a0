"""aura_core — core layer of the Aura library family."""

__all__: list[str] = []

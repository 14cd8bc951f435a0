"""aura_protocol — protocol layer of the Aura library family."""

__all__: list[str] = []

"""aura_cli — cli layer of the Aura library family."""

__all__: list[str] = []

"""aura_agent — agent layer of the Aura library family."""

__all__: list[str] = []

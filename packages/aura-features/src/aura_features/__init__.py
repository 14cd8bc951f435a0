"""aura_features — features layer of the Aura library family."""

__all__: list[str] = []

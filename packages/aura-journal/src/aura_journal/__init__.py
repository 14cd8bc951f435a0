"""aura_journal — journal layer of the Aura library family."""

__all__: list[str] = []

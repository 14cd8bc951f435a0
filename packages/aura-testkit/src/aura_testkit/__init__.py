"""aura_testkit — testkit layer of the Aura library family."""

__all__: list[str] = []

"""aura_protocol — protocol layer of the Aura library family."""

from aura_protocol import channel, choreo, consensus, guards

__all__: list[str] = ["channel", "choreo", "consensus", "guards"]

"""aura_protocol — protocol layer of the Aura library family."""

from aura_protocol import amp, anti_entropy, channel, choreo, consensus, guards

__all__: list[str] = ["amp", "anti_entropy", "channel", "choreo", "consensus", "guards"]

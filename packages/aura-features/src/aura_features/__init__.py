"""aura_features — features layer of the Aura library family.

Each feature is a sub-package that declares ``OPERATION_CATEGORIES``
(operation name -> ``"A"`` CRDT immediate, ``"B"`` pending until agreement,
``"C"`` blocking on consensus):

* :mod:`aura_features.chat` — channels, AMP-sealed messages, moderation, commands;
* :mod:`aura_features.invitation` — invitation codes, contacts;
* :mod:`aura_features.social` — homes, neighborhoods, moderation, relay selection;
* :mod:`aura_features.rendezvous` — descriptors, sealed envelopes, the relay server;
* :mod:`aura_features.devices` — adding and removing devices, thresholds, under consensus;
* :mod:`aura_features.recovery` — guardians and guardian recovery.

:mod:`aura_features.ed25519_signer` is how features sign as an authority.
"""

from aura_features import (
    chat,
    devices,
    ed25519_signer,
    invitation,
    recovery,
    rendezvous,
    social,
)

__all__ = ["chat", "devices", "ed25519_signer", "invitation", "recovery", "rendezvous", "social"]

"""Route mailboxes: what one custody or recovery frame costs to seal for a relay and to open.

Real libsodium (X25519 sealed boxes, XChaCha20-Poly1305) and BLAKE3 on a
2 KiB frame, about the size of a custody deal.
"""

from __future__ import annotations

from aura_agent.route_mail import RouteMailbox, open_route_mail, seal_route_mail
from aura_core.identifiers import AuthorityId, DeviceId
from aura_effects import SodiumCrypto, SystemRandom
from aura_features.rendezvous import RelayHint
from benchmarks._timing import median_us

GOALS = {
    "route_mailbox_us": "<= 200: mailbox key and seal keypair derived from a route string",
    "route_seal_2k_us": "<= 500: seal a 2 KiB frame to a route mailbox (padded)",
    "route_open_2k_us": "<= 500: open it at the route's owner, strict decoding",
}


def run(quick: bool) -> dict[str, float]:
    number = 50 if quick else 500
    crypto = SodiumCrypto(SystemRandom())
    route = str(AuthorityId(bytes(range(16))))
    source = str(DeviceId(bytes(range(16, 32))))
    relays = (RelayHint("tcp://127.0.0.1:4000", bytes(32)),)
    frame = bytes(2048)
    mailbox = RouteMailbox.of(route)
    deposit = seal_route_mail(crypto, route=route, source=source, frame=frame, relays=relays)
    return {
        "route_mailbox_us": median_us(lambda: RouteMailbox.of(route), number=number),
        "route_seal_2k_us": median_us(
            lambda: seal_route_mail(crypto, route=route, source=source, frame=frame, relays=relays),
            number=number,
        ),
        "route_open_2k_us": median_us(
            lambda: open_route_mail(crypto, mailbox, deposit.envelope), number=number
        ),
    }

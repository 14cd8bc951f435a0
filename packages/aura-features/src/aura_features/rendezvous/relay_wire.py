"""The relay's request/response frames (canonical DAG-CBOR, one per Noise channel message).

Requests carry a client-chosen id (u32) that the response repeats, so a
client may pipeline many requests on one connection; the relay answers in
the order it received them.

=========  ===================================================  =========================================
op         request                                              response
=========  ===================================================  =========================================
``put``    ``{op, id, envs: [<envelope>, ...], ttl: seconds}``  ``{id, r: "put", res: [eid | {code, msg}]}``
``get``    ``{op, id, key: <mailbox key>, max}``                ``{id, r: "get", tag, cts: [...], more}``
``del``    ``{op, id, key: <mailbox key>, ids: [eid]}``         ``{id, r: "del", n}``
(any)                                                           ``{id, r: "err", code, msg}``
=========  ===================================================  =========================================

A ``put`` carries 1..64 envelopes (for any mailboxes) and gets one result per
envelope: its id, or the reason it was refused; batching amortises the cost
of a frame over many envelopes. ``get`` and ``del`` present the mailbox *key*;
the relay derives the tag from it, so knowing a tag (every sender does) is
not enough to read or empty a mailbox.
"""

from __future__ import annotations

from typing import Any

import attrs

from aura_core import dag_cbor
from aura_core.canonical_fields import (
    U32_MAX,
    decode_canonical,
    read_bytes,
    read_choice,
    read_list,
    read_map,
    read_str,
    read_uint,
)
from aura_core.errors import InvalidEncoding, InvalidInput
from aura_effects.noise_channel import DEFAULT_MAX_MESSAGE_BYTES
from aura_features.rendezvous.mailbox import MailboxKey, MailboxTag
from aura_features.rendezvous.sealed_envelope import (
    MAX_SEALED_ENVELOPE_BYTES,
    EnvelopeId,
    SealedEnvelope,
)

__all__ = [
    "MAX_ACK_IDS",
    "MAX_DEPOSIT_BATCH",
    "MAX_FETCH",
    "MAX_FRAME_BYTES",
    "MAX_TTL_S",
    "AckRequest",
    "Acked",
    "DepositRequest",
    "Deposited",
    "EnvelopeRefusal",
    "FetchRequest",
    "Fetched",
    "Refused",
    "RelayRequest",
    "RelayResponse",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "request_id_of",
]

MAX_FETCH = 1024
MAX_ACK_IDS = 4096
MAX_DEPOSIT_BATCH = 64
MAX_TTL_S = U32_MAX
MAX_FRAME_BYTES = DEFAULT_MAX_MESSAGE_BYTES
"""Largest request frame: what a Noise channel carries by default (1 MiB). Clients split
deposits so each frame fits; large envelopes travel in smaller batches."""
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_MAX_MESSAGE_CHARS = 512


def _request_id(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not int or not 0 <= value <= U32_MAX:
        raise InvalidInput(f"a relay request id is a u32, got {value!r:.40}")


def _envelopes(_instance: object, _attribute: attrs.Attribute, value: object) -> None:
    if type(value) is not tuple or not 1 <= len(value) <= MAX_DEPOSIT_BATCH:
        raise InvalidInput(f"a deposit carries a tuple of 1..{MAX_DEPOSIT_BATCH} envelopes")
    if not all(type(item) is SealedEnvelope for item in value):
        raise InvalidInput("a deposit carries SealedEnvelope values")


@attrs.frozen
class DepositRequest:
    request_id: int = attrs.field(validator=_request_id)
    envelopes: tuple[SealedEnvelope, ...] = attrs.field(validator=_envelopes)
    ttl_s: int = attrs.field()

    @ttl_s.validator
    def _check_ttl(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 1 <= value <= MAX_TTL_S:
            raise InvalidInput(f"deposit ttl must be 1..{MAX_TTL_S} seconds, got {value!r:.40}")


@attrs.frozen
class FetchRequest:
    request_id: int = attrs.field(validator=_request_id)
    mailbox_key: MailboxKey = attrs.field(validator=attrs.validators.instance_of(MailboxKey))
    limit: int = attrs.field()

    @limit.validator
    def _check_limit(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not int or not 1 <= value <= MAX_FETCH:
            raise InvalidInput(f"fetch limit must be 1..{MAX_FETCH}, got {value!r:.40}")


@attrs.frozen
class AckRequest:
    request_id: int = attrs.field(validator=_request_id)
    mailbox_key: MailboxKey = attrs.field(validator=attrs.validators.instance_of(MailboxKey))
    envelope_ids: tuple[EnvelopeId, ...] = attrs.field()

    @envelope_ids.validator
    def _check_ids(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not tuple or not 1 <= len(value) <= MAX_ACK_IDS:
            raise InvalidInput(f"an ack names 1..{MAX_ACK_IDS} envelope ids")
        if not all(isinstance(item, EnvelopeId) for item in value):
            raise InvalidInput("ack envelope ids must be EnvelopeId values")


RelayRequest = DepositRequest | FetchRequest | AckRequest


@attrs.frozen
class EnvelopeRefusal:
    """Why one envelope of a deposit was not accepted (a relay error code and message)."""

    code: str
    message: str


@attrs.frozen
class Deposited:
    request_id: int
    results: tuple[EnvelopeId | EnvelopeRefusal, ...]
    """One per envelope of the request, in order."""


@attrs.frozen
class Fetched:
    request_id: int
    tag: MailboxTag
    ciphertexts: tuple[bytes, ...]
    more: bool
    """Whether the mailbox holds further envelopes beyond this page."""

    @property
    def envelopes(self) -> tuple[SealedEnvelope, ...]:
        return tuple(SealedEnvelope(self.tag, ct) for ct in self.ciphertexts)


@attrs.frozen
class Acked:
    request_id: int
    removed: int


@attrs.frozen
class Refused:
    request_id: int
    code: str
    message: str


RelayResponse = Deposited | Fetched | Acked | Refused


# ---------------------------------------------------------------------- requests


def encode_request(request: RelayRequest) -> bytes:
    if isinstance(request, DepositRequest):
        value: dict[str, Any] = {
            "op": "put",
            "id": request.request_id,
            "envs": [envelope.to_canonical() for envelope in request.envelopes],
            "ttl": request.ttl_s,
        }
    elif isinstance(request, FetchRequest):
        value = {
            "op": "get",
            "id": request.request_id,
            "key": request.mailbox_key.secret,
            "max": request.limit,
        }
    elif isinstance(request, AckRequest):
        value = {
            "op": "del",
            "id": request.request_id,
            "key": request.mailbox_key.secret,
            "ids": [eid.raw for eid in request.envelope_ids],
        }
    else:
        raise InvalidInput(f"not a relay request: {type(request).__name__}")
    return dag_cbor.encode(value)


def request_id_of(data: bytes) -> int:
    """Best effort: the id of a request that failed to decode (0 when there is none)."""
    try:
        value = dag_cbor.decode(data, allow_floats=False)
    except (InvalidEncoding, InvalidInput):
        return 0
    if type(value) is dict:
        request_id = value.get("id")
        if type(request_id) is int and 0 <= request_id <= U32_MAX:
            return request_id
    return 0


def decode_request(data: bytes) -> RelayRequest:
    """Strict decode of one request frame; anything else raises ``InvalidEncoding``."""
    value = decode_canonical(data, "relay request", max_bytes=MAX_FRAME_BYTES)
    if type(value) is not dict:
        raise InvalidEncoding(f"relay request must be a map, got {type(value).__name__}")
    op = read_choice(value.get("op"), "relay request op", ("put", "get", "del"))
    try:
        if op == "put":
            fields = read_map(value, "deposit request", ("op", "id", "envs", "ttl"))
            items = read_list(
                fields["envs"], "deposited envelopes", min_items=1, max_items=MAX_DEPOSIT_BATCH
            )
            return DepositRequest(
                read_uint(fields["id"], "request id", maximum=U32_MAX),
                tuple(SealedEnvelope.from_canonical(item) for item in items),
                read_uint(fields["ttl"], "deposit ttl", minimum=1, maximum=MAX_TTL_S),
            )
        if op == "get":
            fields = read_map(value, "fetch request", ("op", "id", "key", "max"))
            return FetchRequest(
                read_uint(fields["id"], "request id", maximum=U32_MAX),
                MailboxKey(read_bytes(fields["key"], "mailbox key", size=32)),
                read_uint(fields["max"], "fetch limit", minimum=1, maximum=MAX_FETCH),
            )
        fields = read_map(value, "ack request", ("op", "id", "key", "ids"))
        ids = tuple(
            EnvelopeId(read_bytes(item, "envelope id", size=32))
            for item in read_list(fields["ids"], "ack ids", min_items=1, max_items=MAX_ACK_IDS)
        )
        return AckRequest(
            read_uint(fields["id"], "request id", maximum=U32_MAX),
            MailboxKey(read_bytes(fields["key"], "mailbox key", size=32)),
            ids,
        )
    except InvalidEncoding:
        raise
    except InvalidInput as exc:
        raise InvalidEncoding(f"relay request: {exc.message}") from None


# ---------------------------------------------------------------------- responses


def encode_response(response: RelayResponse) -> bytes:
    if isinstance(response, Deposited):
        value: dict[str, Any] = {
            "id": response.request_id,
            "r": "put",
            "res": [
                result.raw
                if isinstance(result, EnvelopeId)
                else {"code": result.code, "msg": result.message[:_MAX_MESSAGE_CHARS]}
                for result in response.results
            ],
        }
    elif isinstance(response, Fetched):
        value = {
            "id": response.request_id,
            "r": "get",
            "tag": response.tag.raw,
            "cts": list(response.ciphertexts),
            "more": response.more,
        }
    elif isinstance(response, Acked):
        value = {"id": response.request_id, "r": "del", "n": response.removed}
    elif isinstance(response, Refused):
        value = {
            "id": response.request_id,
            "r": "err",
            "code": response.code,
            "msg": response.message[:_MAX_MESSAGE_CHARS],
        }
    else:
        raise InvalidInput(f"not a relay response: {type(response).__name__}")
    return dag_cbor.encode(value)


def _read_result(value: object) -> EnvelopeId | EnvelopeRefusal:
    if type(value) is bytes:
        return EnvelopeId(read_bytes(value, "envelope id", size=32))
    fields = read_map(value, "envelope refusal", ("code", "msg"))
    return EnvelopeRefusal(
        read_str(fields["code"], "refusal code", max_length=32, min_length=1),
        read_str(fields["msg"], "refusal message", max_length=_MAX_MESSAGE_CHARS),
    )


def decode_response(data: bytes) -> RelayResponse:
    """Strict decode of one response frame (clients treat a relay as untrusted too)."""
    value = decode_canonical(data, "relay response", max_bytes=_MAX_RESPONSE_BYTES)
    if type(value) is not dict:
        raise InvalidEncoding(f"relay response must be a map, got {type(value).__name__}")
    kind = read_choice(value.get("r"), "relay response kind", ("put", "get", "del", "err"))
    if kind == "put":
        fields = read_map(value, "deposit response", ("id", "r", "res"))
        return Deposited(
            read_uint(fields["id"], "response id", maximum=U32_MAX),
            tuple(
                _read_result(item)
                for item in read_list(
                    fields["res"], "deposit results", min_items=1, max_items=MAX_DEPOSIT_BATCH
                )
            ),
        )
    if kind == "get":
        fields = read_map(value, "fetch response", ("id", "r", "tag", "cts", "more"))
        if type(fields["more"]) is not bool:
            raise InvalidEncoding("fetch response 'more' must be a boolean")
        return Fetched(
            read_uint(fields["id"], "response id", maximum=U32_MAX),
            MailboxTag(read_bytes(fields["tag"], "mailbox tag", size=32)),
            tuple(
                read_bytes(item, "envelope ciphertext", max_size=MAX_SEALED_ENVELOPE_BYTES)
                for item in read_list(fields["cts"], "fetched envelopes", max_items=MAX_FETCH)
            ),
            fields["more"],
        )
    if kind == "del":
        fields = read_map(value, "ack response", ("id", "r", "n"))
        return Acked(
            read_uint(fields["id"], "response id", maximum=U32_MAX),
            read_uint(fields["n"], "acknowledged count", maximum=MAX_ACK_IDS),
        )
    fields = read_map(value, "error response", ("id", "r", "code", "msg"))
    return Refused(
        read_uint(fields["id"], "response id", maximum=U32_MAX),
        read_str(fields["code"], "error code", max_length=32, min_length=1),
        read_str(fields["msg"], "error message", max_length=_MAX_MESSAGE_CHARS),
    )

"""Mailboxes on untrusted relays: a secret key only the recipient holds, and its public tag.

The key comes from DKD: ``derive_context_key(root, authority, context,
epoch, purpose="rendezvous-mailbox")``. Senders learn the *tag*
(``BLAKE3("AURA_MAILBOX_TAG_V1", key)``) from the recipient's descriptor and
address envelopes to it; only the holder of the key can fetch or delete, since
the relay checks ``tag == H(key)``. Tags of two contexts, or two epochs, of
one authority are unrelated values, so a relay cannot link them, and it never
learns which authority a tag belongs to.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from aura_core.errors import InvalidInput
from aura_core.hashing import derive_context_key, tagged_hash
from aura_core.identifiers import AuthorityId, ContextId, Epoch, Hash32

__all__ = ["MAILBOX_PURPOSE", "MAILBOX_TAG_DOMAIN", "MailboxKey", "MailboxTag"]

MAILBOX_PURPOSE = "rendezvous-mailbox"
MAILBOX_TAG_DOMAIN = "AURA_MAILBOX_TAG_V1"


class MailboxTag(Hash32):
    """The public, opaque name of a mailbox on a relay."""

    prefix: ClassVar[str] = "mailbox"


@attrs.frozen(repr=False)
class MailboxKey:
    """The recipient's secret for one mailbox; fetching and deleting need it."""

    secret: bytes = attrs.field()

    @secret.validator
    def _check_secret(self, _attribute: attrs.Attribute, value: object) -> None:
        if type(value) is not bytes or len(value) != 32:
            raise InvalidInput("a mailbox key is 32 bytes")

    @classmethod
    def derive(
        cls,
        root_key: bytes,
        *,
        authority: AuthorityId,
        context: ContextId,
        epoch: Epoch | int = 0,
    ) -> MailboxKey:
        """This authority's mailbox key in ``context`` at ``epoch`` (DKD)."""
        if not isinstance(authority, AuthorityId) or not isinstance(context, ContextId):
            raise InvalidInput("a mailbox key needs an AuthorityId and a ContextId")
        value = epoch.value if isinstance(epoch, Epoch) else epoch
        return cls(
            derive_context_key(
                root_key,
                authority=authority.raw,
                context=context.raw,
                epoch=value,
                purpose=MAILBOX_PURPOSE,
            )
        )

    @property
    def tag(self) -> MailboxTag:
        return MailboxTag(tagged_hash(MAILBOX_TAG_DOMAIN, self.secret))

    def __repr__(self) -> str:
        return f"MailboxKey(<secret>, tag={self.tag})"

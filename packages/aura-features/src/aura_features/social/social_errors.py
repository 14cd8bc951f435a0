"""Why a home refused an action, as members of the ``AuraError`` family."""

from __future__ import annotations

from aura_core.errors import AuthorizationDenied, ValidationError

__all__ = ["HomeRuleViolation", "HomeStorageFull", "NotAHomeModerator"]


class HomeRuleViolation(ValidationError):
    """The action breaks a rule of the home's current state (not a member, cap reached...)."""


class HomeStorageFull(HomeRuleViolation):
    """The home's storage quota has no room for this item; release something or raise the quota."""


class NotAHomeModerator(AuthorizationDenied):
    """Only the home's moderators may do this (or the signing key is not the actor's)."""

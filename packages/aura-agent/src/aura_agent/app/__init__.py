"""aura_agent.app — the application side of an agent: reactive signals and their values.

Journal changes flow through reducers into named signals
(:class:`SignalBoard`), batched so a burst of facts costs one recomputation
per signal; subscribers always see the latest value. The value types here
(:class:`AccountView`, :class:`JournalCounts`) are what UIs render.
"""

from aura_agent.app.account_view import AccountView, JournalCounts, account_view, journal_counts
from aura_agent.app.signal_board import SignalBoard

__all__ = ["AccountView", "JournalCounts", "SignalBoard", "account_view", "journal_counts"]

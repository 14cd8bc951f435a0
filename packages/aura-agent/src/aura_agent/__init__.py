"""aura_agent — the runtime layer (layer 6): the embeddable agent, signals, the simulator.

* :class:`Agent` (:mod:`aura_agent.runtime`): one device's agent, an async
  context manager a host program runs; configured by :class:`AgentConfig`,
  unlocked by a :class:`HostSecret`.
* :class:`AgentNode`: the sans-IO core the agent and the simulator share.
* :class:`Feature`: the plug-in interface (built-in features and packages
  registered under the ``aura.features`` entry-point group).
* :mod:`aura_agent.app`: reactive signals fed by journal changes.
* :mod:`aura_agent.simulator`: many agents, deterministic, from TOML scenarios.
* :class:`StatusSnapshot` / :func:`render_prometheus`: operations figures.
"""

from aura_agent import (
    app,
    simulator,
)
from aura_agent.account_cosigning import (
    COSIGN_PREFIX,
    STATEMENT_DOMAIN,
    AccountCosigning,
    Signed,
    statement_message,
)
from aura_agent.account_keys import (
    DATA_KEY_SECRET,
    AccountKeys,
    data_key_label,
    load_data_key,
    solo_data_key,
    store_data_key,
)
from aura_agent.agent_frame import (
    FRAME_VERSION,
    MAX_FRAME_BYTES,
    MAX_PUSHED_FACTS,
    AgentFrame,
    ConsensusFrame,
    EnvelopeFrame,
    FeaturePayload,
    PushFrame,
    ServiceFrame,
    SyncFrame,
    decode_frame,
    encode_frame,
)
from aura_agent.agent_node import ROUTES_TABLE, AgentNode, NodeSettings, build_registry
from aura_agent.builtin_features import BUILTIN_FEATURES, account_feature, journals_feature
from aura_agent.chat_feature import (
    CHAT_FEATURE,
    ChatLine,
    ChatRuntime,
    ConversationView,
    chat_feature,
)
from aura_agent.config import AgentConfig, check_loopback_address
from aura_agent.consensus_service import (
    DECISIONS_TABLE,
    VOTES_TABLE,
    ConsensusGroup,
    ConsensusService,
    group_id_of,
)
from aura_agent.contacts_feature import (
    CONTACTS_FEATURE,
    DESCRIPTOR_LIFETIME_MS,
    SEAL_PURPOSE,
    ContactsService,
    ContactView,
    InvitationView,
    contacts_feature,
)
from aura_agent.custody_feature import (
    CUSTODY_TABLE,
    DEVICES_FEATURE,
    GUARDIAN_FEATURE,
    CustodyService,
    LocalShareSigner,
    custody_keys,
    custody_service,
    devices_feature,
    got_account_by_recovery,
    stored_share_signer,
)
from aura_agent.data_key_feature import (
    DATA_KEY_FEATURE,
    RETRY_S,
    DataKeyService,
    data_key_feature,
)
from aura_agent.device_identity import (
    ACCOUNT_SEED_SECRET,
    DEVICE_ROOT_SECRET,
    IDENTITY_TABLE,
    AccountRecord,
    DeviceIdentity,
    create_solo_account,
    load_account,
    store_account,
)
from aura_agent.direct_links import CONNECT_TIMEOUT_S, DirectLinks
from aura_agent.feature import (
    OPERATION_CATEGORIES,
    Feature,
    FeatureHost,
    FeatureMessage,
    JournalReader,
    MessageHandler,
    Query,
    SignalSpec,
    Workflow,
    check_feature_name,
)
from aura_agent.feature_discovery import (
    ENTRY_POINT_GROUP,
    discover_features,
    feature_from_entry_point,
    order_features,
)
from aura_agent.frame_transport import FrameSink, FrameTransport, MemoryRouter
from aura_agent.host_key import KEY_BYTES, HostSecret, KeyDerivation
from aura_agent.journal_book import JOURNALS_TABLE, JournalBook, JournalListener, SyncedFactStore
from aura_agent.metrics import (
    PROMETHEUS_CONTENT_TYPE,
    OperationsMetrics,
    RelayHealth,
    StatusSnapshot,
    render_prometheus,
)
from aura_agent.metrics_endpoint import serve_metrics
from aura_agent.profile_feature import (
    MAX_NICKNAME_CHARS,
    NICKNAME_TYPE_ID,
    PROFILE_REDUCER,
    ProfileNickname,
    ProfileReducer,
    profile_feature,
)
from aura_agent.recovery_feature import (
    GUARDIAN_TABLE,
    GuardianService,
    guardian_keys,
    recovery_feature,
)
from aura_agent.relay_mail import (
    ROUTE_PREFIX,
    Deposit,
    MailboxWatch,
    context_route,
    parse_context_route,
)
from aura_agent.route_mail import (
    ROUTE_MAIL_VERSION,
    RouteLetter,
    RouteMailbox,
    open_route_frame,
    open_route_mail,
    route_kind,
    route_watch,
    seal_route_mail,
)
from aura_agent.runtime import Agent
from aura_agent.vault_feature import (
    MAX_BACKUP_BYTES,
    VAULT_FEATURE,
    VaultService,
    vault_feature,
)

__all__ = [
    "ACCOUNT_SEED_SECRET",
    "BUILTIN_FEATURES",
    "CHAT_FEATURE",
    "CONNECT_TIMEOUT_S",
    "CONTACTS_FEATURE",
    "COSIGN_PREFIX",
    "CUSTODY_TABLE",
    "DATA_KEY_FEATURE",
    "DATA_KEY_SECRET",
    "DECISIONS_TABLE",
    "DESCRIPTOR_LIFETIME_MS",
    "DEVICES_FEATURE",
    "DEVICE_ROOT_SECRET",
    "ENTRY_POINT_GROUP",
    "FRAME_VERSION",
    "GUARDIAN_FEATURE",
    "GUARDIAN_TABLE",
    "IDENTITY_TABLE",
    "JOURNALS_TABLE",
    "KEY_BYTES",
    "MAX_BACKUP_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_NICKNAME_CHARS",
    "MAX_PUSHED_FACTS",
    "NICKNAME_TYPE_ID",
    "OPERATION_CATEGORIES",
    "PROFILE_REDUCER",
    "PROMETHEUS_CONTENT_TYPE",
    "RETRY_S",
    "ROUTES_TABLE",
    "ROUTE_MAIL_VERSION",
    "ROUTE_PREFIX",
    "SEAL_PURPOSE",
    "STATEMENT_DOMAIN",
    "VAULT_FEATURE",
    "VOTES_TABLE",
    "AccountCosigning",
    "AccountKeys",
    "AccountRecord",
    "Agent",
    "AgentConfig",
    "AgentFrame",
    "AgentNode",
    "ChatLine",
    "ChatRuntime",
    "ConsensusFrame",
    "ConsensusGroup",
    "ConsensusService",
    "ContactView",
    "ContactsService",
    "ConversationView",
    "CustodyService",
    "DataKeyService",
    "Deposit",
    "DeviceIdentity",
    "DirectLinks",
    "EnvelopeFrame",
    "Feature",
    "FeatureHost",
    "FeatureMessage",
    "FeaturePayload",
    "FrameSink",
    "FrameTransport",
    "GuardianService",
    "HostSecret",
    "InvitationView",
    "JournalBook",
    "JournalListener",
    "JournalReader",
    "KeyDerivation",
    "LocalShareSigner",
    "MailboxWatch",
    "MemoryRouter",
    "MessageHandler",
    "NodeSettings",
    "OperationsMetrics",
    "ProfileNickname",
    "ProfileReducer",
    "PushFrame",
    "Query",
    "RelayHealth",
    "RouteLetter",
    "RouteMailbox",
    "ServiceFrame",
    "SignalSpec",
    "Signed",
    "StatusSnapshot",
    "SyncFrame",
    "SyncedFactStore",
    "VaultService",
    "Workflow",
    "account_feature",
    "app",
    "build_registry",
    "chat_feature",
    "check_feature_name",
    "check_loopback_address",
    "contacts_feature",
    "context_route",
    "create_solo_account",
    "custody_keys",
    "custody_service",
    "data_key_feature",
    "data_key_label",
    "decode_frame",
    "devices_feature",
    "discover_features",
    "encode_frame",
    "feature_from_entry_point",
    "got_account_by_recovery",
    "group_id_of",
    "guardian_keys",
    "journals_feature",
    "load_account",
    "load_data_key",
    "open_route_frame",
    "open_route_mail",
    "order_features",
    "parse_context_route",
    "profile_feature",
    "recovery_feature",
    "render_prometheus",
    "route_kind",
    "route_watch",
    "seal_route_mail",
    "serve_metrics",
    "simulator",
    "solo_data_key",
    "statement_message",
    "store_account",
    "store_data_key",
    "stored_share_signer",
    "vault_feature",
]

"""The ``aura`` command line: every command, its options and the function that runs it.

Building the parser imports nothing heavy, so ``aura --help`` and usage
errors answer at once; a command's module is imported only when it runs.
Options shared by every command (``--data-dir``, ``--json``, ``--relay``,
``--timeout``) are accepted before or after the command name.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from aura_cli.command_failure import UsageError
from aura_cli.exit_codes import EXIT_CODE_MEANINGS

__all__ = ["build_parser"]

_EPILOG = "exit codes:\n" + "\n".join(
    f"  {int(code):>3}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)
_ENVIRONMENT = """environment:
  AURA_HOME             device directory when --data-dir is not given (default ~/.aura)
  AURA_PASSPHRASE       passphrase that unlocks the device's key material
  AURA_PASSPHRASE_FILE  file whose first line is that passphrase
  AURA_KEY              a raw 32-byte key (64 hex digits) instead of a passphrase
  AURA_RELAY            relay hint(s), comma-separated, instead of the stored ones
  AURA_DEBUG            print tracebacks for internal errors"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _common() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="device directory (default: $AURA_HOME, else ~/.aura)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON object (events: one per line) instead of tables",
    )
    group.add_argument(
        "--relay",
        metavar="HINT",
        action="append",
        default=argparse.SUPPRESS,
        help="relay to use for this command, ADDRESS#KEYHEX (repeatable; default: stored)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=argparse.SUPPRESS,
        help="how long to wait for peers and relays (default 15)",
    )
    return common


class _Commands:
    """Adds sub-commands whose handler is ``module:function`` under ``aura_cli.commands``."""

    def __init__(self, parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
        self._common = common
        self._sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(self, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
        parser = self._sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[self._common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(handler=f"aura_cli.commands.{handler}")
        return parser

    def group(self, name: str, help_text: str) -> _Commands:
        parser = self._sub.add_parser(
            name, help=help_text, description=help_text, parents=[self._common]
        )
        return _Commands(parser, self._common)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _add_account_commands(commands: _Commands) -> None:
    init = commands.add(
        "init",
        "account_commands:init_command",
        "create this device and its account (a t-of-n account across n device directories)",
    )
    init.add_argument("-n", "--devices", type=_positive_int, default=1, help="devices (n)")
    init.add_argument("-t", "--threshold", type=_positive_int, default=None, help="threshold (t)")
    init.add_argument(
        "--device-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="directory of device 2, 3, ... (default: DATA_DIR-2, DATA_DIR-3, ...)",
    )
    init.add_argument("--nickname", help="your nickname, shown to contacts")
    commands.add("status", "account_commands:status_command", "this device, its account and agent")

    device = commands.group("device", "devices of this account")
    device.add("list", "device_commands:list_command", "devices and guardians of the account")
    add = device.add(
        "add", "device_commands:add_command", "let a new device join this account (run here)"
    )
    add.add_argument("device", help="the new device's id (device-<uuid>, from its 'aura status')")
    join = device.add(
        "join", "device_commands:join_command", "ask to join an account (run on the new device)"
    )
    join.add_argument("authority", help="the account (authority-<uuid>)")
    join.add_argument("--via", required=True, metavar="DEVICE", help="a device of that account")
    remove = device.add(
        "remove", "device_commands:remove_command", "remove a lost or retired device (consensus)"
    )
    remove.add_argument("device", help="device id (device-<uuid>, as 'aura device list' shows)")


def _add_social_commands(commands: _Commands) -> None:
    invite = commands.group("invite", "invitations to become contacts")
    create = invite.add(
        "create", "invite_commands:create_command", "create a contact invitation code"
    )
    create.add_argument("--nickname", help="how you introduce yourself in the invitation")
    create.add_argument("--expires-in", type=float, metavar="SECONDS", help="lifetime")
    accept = invite.add("accept", "invite_commands:accept_command", "accept an invitation code")
    accept.add_argument("code", help="the aura:v1:... code (or - to read it from stdin)")
    accept.add_argument("--nickname", help="how you introduce yourself to the inviter")
    decline = invite.add("decline", "invite_commands:decline_command", "decline an invitation")
    decline.add_argument("code", help="the aura:v1:... code, or an invitation id")
    invite.add("list", "invite_commands:list_command", "invitations sent and received")

    contact = commands.group("contact", "people you are connected to")
    contact.add("list", "invite_commands:contacts_command", "your contacts")

    chat = commands.group("chat", "channels and messages")
    create = chat.add("create", "chat_commands:create_command", "create a channel")
    create.add_argument("name", help="channel name")
    create.add_argument(
        "--with",
        dest="members",
        metavar="CONTACT",
        action="append",
        default=[],
        help="contact (nickname or authority id) to add (repeatable)",
    )
    create.add_argument("--topic", help="channel topic")
    send = chat.add("send", "chat_commands:send_command", "send a message")
    send.add_argument("channel", help="the contact (nickname or authority id)")
    send.add_argument("text", help="message text (- reads it from stdin)")
    history = chat.add("history", "chat_commands:history_command", "messages of a channel")
    history.add_argument("channel", help="the contact (nickname or authority id)")
    history.add_argument("--limit", type=_positive_int, default=50, help="newest N (default 50)")
    chat.add("list", "chat_commands:list_command", "channels you are in")
    edit = chat.add("edit", "chat_commands:edit_command", "edit a message you sent")
    edit.add_argument("message", help="message id (message:..., from 'chat history --json')")
    edit.add_argument("text", help="new text")
    delete = chat.add("delete", "chat_commands:delete_command", "delete a message you sent")
    delete.add_argument("message", help="message id (message:..., from 'chat history --json')")


def _add_recovery_commands(commands: _Commands) -> None:
    recovery = commands.group("recovery", "guardians and account recovery")
    guardians = recovery.add(
        "guardians", "recovery_commands:guardians_command", "show or choose the account's guardians"
    )
    guardians.add_argument(
        "--set",
        dest="guardians",
        metavar="GUARDIAN",
        action="append",
        default=None,
        help="invite this guardian: a contact's nickname or an authority id (repeatable); "
        "the set is seated once every one accepted",
    )
    guardians.add_argument(
        "--threshold", type=_positive_int, help="guardian approvals needed to recover"
    )
    guardians.add_argument(
        "--dispute-window",
        type=_non_negative_int,
        metavar="SECONDS",
        default=86400,
        help="how long devices of the account may dispute a recovery (default one day)",
    )
    for name, verb in (("accept", "accept"), ("decline", "decline")):
        answer = recovery.add(
            name,
            f"recovery_commands:{name}_command",
            f"as a guardian: {verb} an invitation to guard an account",
        )
        answer.add_argument("id", nargs="?", help="invitation id (default: the only one waiting)")
    start = recovery.add(
        "start", "recovery_commands:start_command", "on a new device: ask guardians to restore"
    )
    start.add_argument("authority", help="the account to restore (authority-<uuid>)")
    start.add_argument(
        "--guardian",
        dest="guardians",
        metavar="AUTHORITY",
        action="append",
        default=[],
        help="a guardian's authority id (repeatable)",
    )
    start.add_argument(
        "--keep",
        metavar="IDENTIFIER",
        type=_positive_int,
        action="append",
        default=[],
        help="a device you still hold, by its identifier ('aura device list') (repeatable)",
    )
    start.add_argument(
        "--threshold",
        type=_positive_int,
        help="devices needed to sign afterwards (default: majority)",
    )
    start.add_argument(
        "--group-key",
        metavar="HEX",
        help="the account's public key (64 hex digits); default: the key the guardians vouch for",
    )
    for name, verb in (("approve", "approve"), ("deny", "deny")):
        answer = recovery.add(
            name, f"recovery_commands:{name}_command", f"as a guardian: {verb} a recovery request"
        )
        answer.add_argument(
            "id", nargs="?", help="recovery request id (default: the only one waiting)"
        )
    recovery.add(
        "status", "recovery_commands:status_command", "recoveries and invitations in progress"
    )
    dispute = recovery.add(
        "dispute",
        "recovery_commands:dispute_command",
        "on a device of the account: stop a recovery",
    )
    dispute.add_argument("request", help="recovery request id")


def _add_network_commands(commands: _Commands) -> None:
    relay = commands.group("relay", "the rendezvous relay")
    serve = relay.add("serve", "relay_commands:serve_command", "run a relay until stopped")
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="127.0.0.1:0",
        help="TCP address (default 127.0.0.1:0, a free port)",
    )
    serve.add_argument("--ws-port", type=int, help="also serve WebSocket on this port")
    serve.add_argument("--ready-file", metavar="FILE", help="write the relay hint here once up")
    use = relay.add("use", "relay_commands:use_command", "store the relays this device uses")
    use.add_argument("hints", nargs="+", metavar="HINT", help="ADDRESS#KEYHEX")

    sync = commands.group("sync", "exchange facts and messages with peers")
    sync.add("once", "sync_commands:once_command", "one round: fetch, apply, answer, send")
    daemon = sync.add("daemon", "sync_commands:daemon_command", "keep syncing until stopped")
    daemon.add_argument(
        "--ready-file", metavar="FILE", help="write this device's id here once running"
    )
    daemon.add_argument(
        "--new-device",
        action="store_true",
        help="create this device if the directory holds none (a device about to join or recover)",
    )
    daemon.add_argument(
        "--listen",
        metavar="tcp://HOST:0",
        help="also accept contacts' direct connections (one port per context, advertised to them)",
    )


def _add_tool_commands(commands: _Commands) -> None:
    threshold = commands.group("threshold", "sign with the account's threshold key")
    sign = threshold.add("sign", "threshold_commands:sign_command", "sign a message")
    sign.add_argument("message", help="text to sign (- reads bytes from stdin)")
    verify = threshold.add(
        "verify", "threshold_commands:verify_command", "check a signature against an account key"
    )
    verify.add_argument("message", help="the signed text (- reads bytes from stdin)")
    verify.add_argument("signature", help="signature, 128 hex digits")
    verify.add_argument(
        "--key",
        metavar="HEX",
        help="group public key (64 hex digits); default: this device's account",
    )

    sim = commands.group("sim", "deterministic simulation")
    run = sim.add("run", "sim_commands:run_command", "run a scenario file")
    run.add_argument("scenario", help="scenario .toml file")
    run.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    run.add_argument("--seeds", metavar="A:B", help="run seeds A..B-1 instead of one")

    commands.add("tui", "tui_command:tui_command", "the chat screen (channels, messages, contacts)")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="aura",
        description="Aura: threshold accounts, contacts, chat and recovery, peer to peer.",
        epilog=_EPILOG + "\n\n" + _ENVIRONMENT,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = _Commands(parser, common)
    _add_account_commands(commands)
    _add_social_commands(commands)
    _add_recovery_commands(commands)
    _add_network_commands(commands)
    _add_tool_commands(commands)
    return parser

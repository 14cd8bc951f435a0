"""``aura threshold sign|verify``: statements signed by the account's key, checkable by anyone.

A FROST group signature is a plain Ed25519 signature, so ``verify`` needs
only the account's group public key (this device's account by default, or
``--key``). A 1-of-1 account's key is a plain Ed25519 key held by its one
device; a t-of-n account signs only when t devices cooperate (their agents
running), which ``sign`` asks the agent to run (``devices.sign``).

What is signed is the statement prefixed with a fixed domain
(:data:`aura_agent.account_cosigning.STATEMENT_DOMAIN`), so a statement can
never pass for a fact, an invitation or anything else the account key signs.
"""

from __future__ import annotations

import sys

import anyio
from nacl.signing import SigningKey

from aura_agent import ACCOUNT_SEED_SECRET, Agent
from aura_agent.account_cosigning import statement_message
from aura_cli.agent_session import require_operation, running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import Invocation
from aura_core.crypto.ed25519 import verify_signature
from aura_core.errors import ConsensusError, NotFound, StorageError

__all__ = ["sign_command", "verify_command"]

_POLL_S = 0.05


def _message(text: str) -> bytes:
    return sys.stdin.buffer.read() if text == "-" else text.encode("utf-8")


def _hex(text: str, size: int, what: str) -> bytes:
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        raise UsageError(f"{what} is not hexadecimal") from None
    if len(value) != size:
        raise UsageError(f"{what} must be {size} bytes ({size * 2} hex digits), got {len(value)}")
    return value


async def _sign(agent: Agent, message: bytes, timeout_s: float) -> tuple[bytes, int]:
    """The account's signature of the statement ``message``, and how many devices took part."""
    account = agent.account
    if account is None:
        raise NotFound("this device belongs to no account yet; run 'aura init' first")
    with agent.effects.storage.transaction(readonly=True) as txn:
        seed = txn.get_secret(ACCOUNT_SEED_SECRET)
    if seed is not None:  # an account made by 'aura init' alone: the whole key is here
        if len(seed) != 32:
            raise StorageError("the account's signing key in this device's storage is corrupt")
        return SigningKey(seed).sign(statement_message(message)).signature, 1
    require_operation(agent, "devices.sign")
    request = await agent.run("devices.sign", message=message)
    threshold = int(agent.query("devices.status").get("threshold") or 1)
    with anyio.move_on_after(timeout_s):
        while True:
            signature = agent.query("devices.signature", request=request)
            if signature is not None:
                return bytes.fromhex(signature), threshold
            await anyio.sleep(_POLL_S)
    raise ConsensusError(
        f"the account's other devices did not sign within {timeout_s:.0f} s "
        f"({threshold} of them must be running: 'aura sync daemon')"
    )


async def sign_command(invocation: Invocation) -> CommandResult:
    message = _message(invocation.args.message)
    async with running_agent(invocation) as agent:
        with invocation.output.progress("signing with the account key"):
            signature, signers = await _sign(agent, message, invocation.timeout_s)
        account = agent.account
        assert account is not None
    data = {
        "authority": str(account.authority),
        "threshold": signers,
        "public_key": account.group_public_key.hex(),
        "signature": signature.hex(),
    }
    view = fields_table(
        f"signed by {signers} device(s)",
        {
            "authority": account.authority,
            "public key": account.group_public_key.hex(),
            "signature": signature.hex(),
        },
    )
    return CommandResult(data, view)


async def verify_command(invocation: Invocation) -> CommandResult:
    args = invocation.args
    signature = _hex(args.signature, 64, "signature")
    if args.key is not None:
        key = _hex(args.key, 32, "--key")
        authority = None
    else:
        async with running_agent(invocation) as agent:
            account = agent.account
            if account is None:
                raise NotFound("this device belongs to no account; pass --key HEX")
            key, authority = account.group_public_key, str(account.authority)
    valid = verify_signature(key, statement_message(_message(args.message)), signature)
    data = {"valid": valid, "public_key": key.hex(), "authority": authority}
    view = fields_table(
        "signature is VALID" if valid else "signature is NOT valid",
        {"public key": key.hex(), "authority": authority},
    )
    return CommandResult(data, view, ExitCode.OK if valid else ExitCode.FAILED)

"""``aura threshold sign|verify``: signatures by the account's key, checkable by anyone.

A FROST group signature is a plain Ed25519 signature, so ``verify`` needs
only the account's group public key (this device's account by default, or
``--key``). A 1-of-1 account's key is a plain Ed25519 key held by its one
device; a t-of-n account signs only when t devices cooperate, which this
command asks the agent to run.
"""

from __future__ import annotations

import sys

from nacl.signing import SigningKey

from aura_agent import ACCOUNT_SEED_SECRET, Agent
from aura_cli.agent_session import require_operation, running_agent
from aura_cli.command_failure import UsageError
from aura_cli.console_output import CommandResult, fields_table
from aura_cli.exit_codes import ExitCode
from aura_cli.invocation import Invocation
from aura_core.crypto.ed25519 import verify_signature
from aura_core.errors import NotFound, StorageError

__all__ = ["sign_command", "verify_command"]


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


async def _sign(agent: Agent, message: bytes) -> bytes:
    account = agent.account
    if account is None:
        raise NotFound("this device belongs to no account yet; run 'aura init' first")
    if account.threshold > 1:
        require_operation(agent, "account.sign")
        signature = await agent.run("account.sign", message=message)
        return bytes(signature)
    with agent.effects.storage.transaction(readonly=True) as txn:
        seed = txn.get_secret(ACCOUNT_SEED_SECRET)
    if seed is None or len(seed) != 32:
        raise StorageError("the account's signing key is missing from this device's storage")
    return SigningKey(seed).sign(message).signature


async def sign_command(invocation: Invocation) -> CommandResult:
    message = _message(invocation.args.message)
    async with running_agent(invocation) as agent:
        with invocation.output.progress("signing with the account key"):
            signature = await _sign(agent, message)
        account = agent.account
        assert account is not None
    data = {
        "authority": str(account.authority),
        "threshold": account.threshold,
        "public_key": account.group_public_key.hex(),
        "signature": signature.hex(),
    }
    view = fields_table(
        "signed",
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
    valid = verify_signature(key, _message(args.message), signature)
    data = {"valid": valid, "public_key": key.hex(), "authority": authority}
    view = fields_table(
        "signature is VALID" if valid else "signature is NOT valid",
        {"public key": key.hex(), "authority": authority},
    )
    return CommandResult(data, view, ExitCode.OK if valid else ExitCode.FAILED)

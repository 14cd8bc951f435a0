"""Exit codes and advice for every error kind; relay hints; secrets; the CLI's settings file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_agent import HostSecret
from aura_cli.command_failure import (
    NotInitialized,
    UnsupportedOperation,
    UsageError,
    WrongSecret,
    describe_failure,
)
from aura_cli.device_home import CliSettings, DeviceHome, resolve_data_dir
from aura_cli.exit_codes import EXIT_CODE_MEANINGS, ExitCode
from aura_cli.host_secret_source import read_host_secret
from aura_cli.relay_hints import format_hint, parse_hint
from aura_core.errors import (
    AuraError,
    AuthorizationDenied,
    ConsensusError,
    CryptoError,
    ErrorKind,
    InsufficientBudget,
    InvalidEncoding,
    InvalidInput,
    NotFound,
    StorageError,
    TransportError,
    ValidationError,
)
from aura_features.invitation import InvalidInvitationCode
from aura_features.rendezvous import RelayHint

HINT = RelayHint("tcp://127.0.0.1:4000", bytes(range(32)))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("x"), ExitCode.USAGE),
        (InvalidInput("x"), ExitCode.USAGE),
        (InvalidEncoding("x"), ExitCode.USAGE),
        (InvalidInvitationCode("x"), ExitCode.USAGE),
        (NotFound("x"), ExitCode.NOT_FOUND),
        (NotInitialized("x"), ExitCode.NOT_FOUND),
        (UnsupportedOperation("x"), ExitCode.UNSUPPORTED),
        (WrongSecret("x"), ExitCode.DENIED),
        (AuthorizationDenied("x"), ExitCode.DENIED),
        (TransportError("x"), ExitCode.TRANSIENT),
        (InsufficientBudget("x"), ExitCode.TRANSIENT),
        (ConsensusError("x"), ExitCode.TRANSIENT),
        (StorageError("x"), ExitCode.SYSTEM),
        (StorageError("locked", kind=ErrorKind.TRANSIENT), ExitCode.TRANSIENT),
        (ValidationError("x"), ExitCode.FAILED),
        (CryptoError("x"), ExitCode.FAILED),
        (AuraError("x"), ExitCode.FAILED),
    ],
)
def test_every_error_kind_has_its_exit_code_and_advice(error, code):
    failure = describe_failure(error)
    assert failure.code is code
    assert failure.message == "x" or failure.message == error.message
    assert failure.hint
    assert failure.to_json()["exit_code"] == int(code)
    assert failure.to_json()["ok"] is False


def test_unexpected_exceptions_are_reported_as_bugs_without_their_arguments():
    failure = describe_failure(KeyError("secret-looking-value"))
    assert failure.code is ExitCode.SYSTEM
    assert "secret-looking-value" not in failure.message
    assert "KeyError" in failure.message


def test_every_exit_code_is_documented():
    assert set(EXIT_CODE_MEANINGS) == set(ExitCode)
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 130]


def test_relay_hints_round_trip_and_bad_ones_say_what_is_wrong():
    text = format_hint(HINT)
    assert parse_hint(text) == HINT
    assert parse_hint(f"  {text}\n") == HINT
    for bad, reason in [
        ("tcp://127.0.0.1:4000", "no '#<key>'"),
        ("tcp://127.0.0.1:4000#abcd", "64 hex digits"),
        ("tcp://127.0.0.1:4000#" + "zz" * 32, "not hexadecimal"),
        ("ftp://x:1#" + "00" * 32, "address"),
    ]:
        with pytest.raises(UsageError, match=reason):
            parse_hint(bad)


@given(st.text(max_size=120))
def test_parse_hint_raises_only_usage_errors(text):
    try:
        parse_hint(text)
    except UsageError:
        pass


def test_secret_sources_in_order_and_no_prompt_without_a_terminal():
    key = HostSecret.from_key(bytes(32))
    assert read_host_secret({"AURA_KEY": "00" * 32, "AURA_PASSPHRASE": "ignored!!"}) == key
    assert read_host_secret({"AURA_PASSPHRASE": "long enough"}).passphrase == "long enough"
    with pytest.raises(UsageError, match="AURA_PASSPHRASE"):
        read_host_secret({}, interactive=False)
    with pytest.raises(UsageError, match="64 hex digits"):
        read_host_secret({"AURA_KEY": "nothex"})
    with pytest.raises(UsageError, match="at least 8"):
        read_host_secret({"AURA_PASSPHRASE": "short"})
    answers = iter(["typed passphrase", "typed passphrase"])
    asked = read_host_secret({}, confirm=True, interactive=True, prompt=lambda _: next(answers))
    assert asked.passphrase == "typed passphrase"
    answers = iter(["typed passphrase", "another one!"])
    with pytest.raises(UsageError, match="differ"):
        read_host_secret({}, confirm=True, interactive=True, prompt=lambda _: next(answers))


def test_passphrase_file(tmp_path):
    path = tmp_path / "pass"
    path.write_text("from a file\nignored\n", encoding="utf-8")
    assert read_host_secret({"AURA_PASSPHRASE_FILE": str(path)}).passphrase == "from a file"
    with pytest.raises(UsageError, match="AURA_PASSPHRASE_FILE"):
        read_host_secret({"AURA_PASSPHRASE_FILE": str(tmp_path / "missing")})


def test_data_dir_resolution_and_settings_file(tmp_path):
    assert resolve_data_dir("/x", {"AURA_HOME": "/y"}).as_posix() == "/x"
    assert resolve_data_dir(None, {"AURA_HOME": "/y"}).as_posix() == "/y"
    assert resolve_data_dir(None, {}).name == ".aura"
    home = DeviceHome(tmp_path / "dev")
    assert home.settings() == CliSettings()
    home.save_settings(CliSettings((HINT,)))
    assert home.settings() == CliSettings((HINT,))
    home.settings_path.write_text('{"relays": ["nonsense"]}', encoding="utf-8")
    with pytest.raises(StorageError, match=r"aura-cli\.json"):
        home.settings()
    home.settings_path.write_text("{", encoding="utf-8")
    with pytest.raises(StorageError, match="not valid JSON"):
        home.settings()


def test_a_directory_is_held_by_one_process_at_a_time(tmp_path):
    home = DeviceHome(tmp_path)
    with (
        home.exclusive(),
        pytest.raises(StorageError, match="in use") as refused,
        DeviceHome(tmp_path).exclusive(),
    ):
        pass
    assert refused.value.kind is ErrorKind.TRANSIENT
    with home.exclusive():
        pass

"""``aura init -n 3 -t 2``: one account over three device directories, through the devices feature."""

from __future__ import annotations

import pytest

from aura_agent import HostSecret
from aura_agent.builtin_features import BUILTIN_FEATURES
from aura_cli.console_output import Output
from aura_cli.device_ceremony import create_spread_account
from aura_cli.device_home import DeviceHome
from aura_cli.exit_codes import ExitCode

pytestmark = pytest.mark.anyio

KEY = "77" * 32


def _features_with_devices():
    from aura_agent.custody_feature import devices_feature

    # Contacts and chat sign with an account key no single device of a threshold
    # account holds (the agent's documented limit), so these agents run without them.
    kept = [f for f in (make() for make in BUILTIN_FEATURES) if f.name not in {"contacts", "chat"}]
    return [*(f for f in kept if f.name != "devices"), devices_feature()]


@pytest.mark.parametrize("threshold", [2, 3])
async def test_two_of_three_across_three_directories(tmp_path, threshold):
    homes = [DeviceHome(tmp_path / f"alice-{i}") for i in (1, 2, 3)]
    account, devices = await create_spread_account(
        homes,
        threshold,
        HostSecret.from_key(bytes.fromhex(KEY)),
        relays=(),
        output=Output(json_mode=True),
        timeout_s=30,
        nickname="Alice",
        features=_features_with_devices(),
    )
    assert account["threshold"] == threshold
    assert sorted(account["devices"]) == sorted(d["device"] for d in devices)
    assert sorted(d["identifier"] for d in devices) == [1, 2, 3]
    assert {d["threshold"] for d in devices} == {threshold}
    # Every directory holds its device's account record and the same tree, on disk.
    for home in homes:
        assert (home.path / "agent.sqlite").stat().st_size > 0
        assert (home.path / "aura-cli.json").exists()


def test_init_refuses_thresholds_that_make_no_sense_before_touching_disk(tmp_path, aura_here):
    for flags, reason in [
        (("-n", "3", "-t", "1"), "any one device act alone"),
        (("-n", "2", "-t", "3"), "more than the 2 devices"),
        (("-n", "3", "--device-dir", str(tmp_path / "x")), "needs 2 --device-dir values"),
    ]:
        ran = aura_here("init", *flags, "--data-dir", tmp_path / "a", "--json", AURA_KEY=KEY)
        assert ran.code == ExitCode.USAGE and reason in ran.json()["message"]
    assert list(tmp_path.iterdir()) == []

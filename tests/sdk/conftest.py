"""Shared set-up of the vendor-SDK conformance suite.

run.sh starts two emulators and passes them here through the environment:

  IPCONFORM_URL               http://127.0.0.1:PORT, the emulator with a true clock
  IPCONFORM_STALE_URL         http://127.0.0.1:PORT, the emulator whose clock runs ahead
  IPCONFORM_STALE_CLOCK_OFFSET  how far ahead, in seconds (run.sh: 3600)
  IPCONFORM_WORLD             the world file both emulators serve

Every ENI id, address and key the tests use comes from that world file's
`fixtures:` section, so nothing is written down twice.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest
import yaml

from support import ECS, ENS, NAVER, TENCENT, Dialect, Emulator

# --- The suite talks to 127.0.0.1 only ------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check_address(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not ipaddress.ip_address(host).is_loopback:
            raise ConnectionRefusedError(f"the SDK suite may only talk to 127.0.0.1; something tried {address!r}")


def _guarded_connect(self, address):
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"):
        raise socket.gaierror(f"the SDK suite may only talk to 127.0.0.1; something resolved {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


# --- The emulators and the world -----------------------------------------


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with tests/sdk/run.sh", returncode=4)
    return value


@pytest.fixture(scope="session")
def emulator() -> Emulator:
    return Emulator.from_url(_env("IPCONFORM_URL"))


@pytest.fixture(scope="session")
def stale_emulator() -> Emulator:
    offset = int(_env("IPCONFORM_STALE_CLOCK_OFFSET"))
    # Past the 15-minute window (SIGNING.md A1), else nothing is stale.
    assert abs(offset) > 15 * 60, offset
    return Emulator.from_url(_env("IPCONFORM_STALE_URL"), clock_offset=offset)


@pytest.fixture(scope="session")
def world() -> dict:
    with open(_env("IPCONFORM_WORLD"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _dialect(world: dict, name: str) -> Dialect:
    fixtures = world["fixtures"][name]
    enis = frozenset(e["id"] for e in world["enis"])
    dialect = Dialect(name=name, values=fixtures["values"], credentials=fixtures["credentials"], enis=enis)
    assert dialect.unknown_eni not in enis
    return dialect


@pytest.fixture(scope="session")
def ecs(world) -> Dialect:
    return _dialect(world, ECS)


@pytest.fixture(scope="session")
def ens(world) -> Dialect:
    return _dialect(world, ENS)


@pytest.fixture(scope="session")
def tencent(world) -> Dialect:
    return _dialect(world, TENCENT)


@pytest.fixture(scope="session")
def naver(world) -> Dialect:
    return _dialect(world, NAVER)

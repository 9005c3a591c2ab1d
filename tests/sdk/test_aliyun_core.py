"""aliyun-python-sdk-core 2.16.1 with aliyun-python-sdk-ecs 4.24.83 and
aliyun-python-sdk-ens 3.0.23 (the legacy "core" SDK) against the emulator.

Signature: RPC v1 HMAC-SHA1, the only access-key signer of this SDK (SDKS.md B1).
Replies: the SDK returns a 2xx body as raw bytes, so the tests read the JSON.
Errors: aliyunsdkcore.acs_exception.exceptions.ServerException.
"""

from __future__ import annotations

import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526 import AssignPrivateIpAddressesRequest as EcsAssign
from aliyunsdkecs.request.v20140526 import DescribeNetworkInterfacesRequest as EcsDescribe
from aliyunsdkecs.request.v20140526 import UnassignPrivateIpAddressesRequest as EcsUnassign
from aliyunsdkens.request.v20171110 import AssignPrivateIpAddressesRequest as EnsAssign
from aliyunsdkens.request.v20171110 import DescribeNetworkInterfacesRequest as EnsDescribe
from aliyunsdkens.request.v20171110 import UnassignPrivateIpAddressesRequest as EnsUnassign

import scenarios as sc
from scenarios import Eni, Refusal
from support import Dialect, Emulator, raw_snapshot


class CoreDriver:
    def __init__(self, emu: Emulator, dialect: Dialect, creds: str = "default"):
        key = dialect.credentials[creds]
        # RegionId: the SDK adds the client's region to every request, ENS too.
        self.client = AcsClient(
            key["access_key_id"], key["access_key_secret"], dialect.region, port=emu.port, auto_retry=False
        )
        self.host = emu.host
        self.dialect = dialect

    def _do(self, req) -> dict:
        req.set_endpoint(self.host)
        req.set_protocol_type("http")
        body = json.loads(self.client.do_action_with_exception(req))
        assert body["RequestId"], body
        return body

    def error(self, call) -> Refusal:
        with pytest.raises(ServerException) as info:
            call()
        e = info.value
        assert type(e) is ServerException, type(e)
        return Refusal(e.get_http_status(), e.get_error_code(), e.get_request_id())

    @staticmethod
    def _eni(s: dict) -> Eni:
        ips = tuple((p["PrivateIpAddress"], p["Primary"]) for p in s["PrivateIpSets"]["PrivateIpSet"])
        return Eni(s["NetworkInterfaceId"], s["VSwitchId"], ips)

    def _describe(self, req) -> list:
        body = self._do(req)
        enis = body["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        assert body["TotalCount"] == len(enis), body
        return [self._eni(s) for s in enis]

    def describe(self, eni: str) -> Eni:
        (found,) = self._describe(self._describe_one(eni))
        assert found.id == eni
        return found

    def snapshot(self) -> dict:
        return {e.id: e.ips for e in self._describe(self._describe_all())}


class CoreEcs(CoreDriver):
    def assign(self, eni, ips=None, count=None) -> list:
        req = EcsAssign.AssignPrivateIpAddressesRequest()
        req.set_NetworkInterfaceId(eni)
        if ips is not None:
            req.set_PrivateIpAddresss(ips)
        if count is not None:
            req.set_SecondaryPrivateIpAddressCount(count)
        assigned = self._do(req)["AssignedPrivateIpAddressesSet"]
        assert assigned["NetworkInterfaceId"] == eni
        return assigned["PrivateIpSet"]["PrivateIpAddress"]

    def unassign(self, eni, ips) -> None:
        req = EcsUnassign.UnassignPrivateIpAddressesRequest()
        req.set_NetworkInterfaceId(eni)
        req.set_PrivateIpAddresss(ips)
        self._do(req)

    def _describe_one(self, eni):
        req = EcsDescribe.DescribeNetworkInterfacesRequest()
        req.set_NetworkInterfaceIds([eni])
        return req

    def _describe_all(self):
        req = EcsDescribe.DescribeNetworkInterfacesRequest()
        req.set_PageSize(100)
        return req


class CoreEns(CoreDriver):
    def assign(self, eni, vswitch=None) -> str:
        req = EnsAssign.AssignPrivateIpAddressesRequest()
        req.set_NetworkInterfaceId(eni)
        if vswitch is not None:
            req.set_VSwitchId(vswitch)
        assigned = self._do(req)["AssignedPrivateIpAddressesSet"]
        assert assigned["NetworkInterfaceId"] == eni
        (ip,) = assigned["PrivateIpSet"]
        return ip

    def unassign(self, eni, ips) -> None:
        req = EnsUnassign.UnassignPrivateIpAddressesRequest()
        req.set_NetworkInterfaceId(eni)
        req.set_PrivateIpAddress(ips)
        self._do(req)

    def _describe_one(self, eni):
        req = EnsDescribe.DescribeNetworkInterfacesRequest()
        req.set_NetworkInterfaceId(eni)
        return req

    def _describe_all(self):
        req = EnsDescribe.DescribeNetworkInterfacesRequest()
        req.set_EnsRegionId(self.dialect.region)
        req.set_PageSize("100")
        return req


@pytest.fixture
def ecs_sdk(emulator, ecs):
    return CoreEcs(emulator, ecs)


@pytest.fixture
def ens_sdk(emulator, ens):
    return CoreEns(emulator, ens)


# --- ECS --------------------------------------------------------------------


def test_ecs_cycle_explicit(ecs_sdk, ecs):
    sc.ecs_cycle_explicit(ecs_sdk, ecs)


def test_ecs_cycle_count(ecs_sdk, ecs):
    sc.ecs_cycle_count(ecs_sdk, ecs)


@pytest.mark.parametrize("op", ["assign", "unassign"])
@pytest.mark.parametrize("which", ["unknown", "other_account"])
def test_ecs_eni_not_found(ecs_sdk, ecs, which, op):
    sc.ecs_unknown_eni(ecs_sdk, ecs, which, op)


def test_ecs_ip_assigned(ecs_sdk, ecs):
    sc.ecs_ip_assigned(ecs_sdk, ecs)


def test_ecs_ip_unassigned(ecs_sdk, ecs):
    sc.ecs_ip_unassigned(ecs_sdk, ecs)


# --- ENS --------------------------------------------------------------------


def test_ens_cycle(ens_sdk, ens):
    sc.ens_cycle(ens_sdk, ens)


def test_ens_cycle_second_vswitch(ens_sdk, ens):
    sc.ens_cycle_second_vswitch(ens_sdk, ens)


@pytest.mark.parametrize("op", ["assign", "unassign"])
@pytest.mark.parametrize("which", ["unknown", "other_account"])
def test_ens_eni_not_found(ens_sdk, ens, which, op):
    sc.ens_unknown_eni(ens_sdk, ens, which, op)


def test_ens_full(ens_sdk, ens):
    sc.ens_full(ens_sdk, ens)


def test_ens_ip_not_on_eni(ens_sdk, ens):
    sc.ens_ip_not_on_eni(ens_sdk, ens)


# --- Authentication ---------------------------------------------------------

DRIVERS = {"ecs": CoreEcs, "ens": CoreEns}

# (status, code) as this SDK reports them. A 400 SignatureDoesNotMatch whose
# Message carries the client's own string-to-sign after a ':' is rewritten by
# the SDK to InvalidAccessKeySecret (SDKS.md B1): the emulator's message does,
# so the SDK must say InvalidAccessKeySecret, keeping the status.
KEY_ERRORS = {
    "wrong_secret": {"ecs": (400, "InvalidAccessKeySecret"), "ens": (400, "InvalidAccessKeySecret")},
    "unknown": {"ecs": (404, "InvalidAccessKeyId.NotFound"), "ens": (404, "InvalidAccessKeyId.NotFound")},
    "disabled": {"ecs": (403, "Abs.InvalidAccount.NotFound"), "ens": (403, "Abs.InvalidAccount.NotFound")},
    "ram_describe_only": {"ecs": (403, "Forbidden.SubUser"), "ens": (400, "NoPermission")},
}


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
@pytest.mark.parametrize("creds", list(KEY_ERRORS))
@pytest.mark.parametrize("api", list(DRIVERS))
def test_key_refused(request, emulator, api, creds, op):
    dialect = request.getfixturevalue(api)
    driver = DRIVERS[api]
    bad, good = driver(emulator, dialect, creds), driver(emulator, dialect)
    sc.auth_refused(bad, good, dialect, op, KEY_ERRORS[creds][api])


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
@pytest.mark.parametrize("api", list(DRIVERS))
def test_stale_timestamp(request, emulator, stale_emulator, api, op):
    dialect = request.getfixturevalue(api)
    driver = DRIVERS[api]
    bad, good = driver(stale_emulator, dialect), driver(emulator, dialect)
    sc.auth_refused(
        bad, good, dialect, op, (400, "InvalidTimeStamp.Expired"), lambda: raw_snapshot(stale_emulator, dialect)
    )

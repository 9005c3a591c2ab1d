"""alibabacloud-ecs20140526 7.11.8 and alibabacloud-ens20171110 12.1.0 on
alibabacloud-tea-openapi 0.4.6 (the newer "tea" SDKs) against the emulator.

Signature: each test runs under the default V3 (ACS3-HMAC-SHA256) and under
signature_algorithm='v2' (RPC v1 HMAC-SHA1), SDKS.md B2.
Replies: read through the SDKs' typed response models.
Errors: alibabacloud_tea_openapi.exceptions.ClientException for a 4xx.
"""

from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ens20171110 import models as ens_models
from alibabacloud_ens20171110.client import Client as EnsClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ClientException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

import scenarios as sc
from scenarios import Eni, Refusal
from support import Dialect, Emulator, raw_snapshot

SIGNINGS = ["v3", "v2"]  # v3: the SDK's default; v2: config.signature_algorithm = 'v2'


class TeaDriver:
    client_class = None

    def __init__(self, emu: Emulator, dialect: Dialect, signing: str, creds: str = "default"):
        key = dialect.credentials[creds]
        config = Config(
            access_key_id=key["access_key_id"],
            access_key_secret=key["access_key_secret"],
            region_id=dialect.region,
            endpoint=f"{emu.host}:{emu.port}",
            protocol="http",
        )
        if signing != "v3":
            config.signature_algorithm = signing
        self.client = self.client_class(config)
        self.runtime = RuntimeOptions(autoretry=False)
        self.dialect = dialect

    def _ok(self, response):
        assert response.status_code == 200, response.status_code
        assert response.body.request_id, response.body.to_map()
        return response.body

    def error(self, call) -> Refusal:
        with pytest.raises(AlibabaCloudException) as info:
            call()
        e = info.value
        # A 4xx is a ClientException (5xx: ServerException; with retry-after
        # headers: ThrottlingException).
        assert type(e) is ClientException, (type(e), e.status_code, e.code)
        return Refusal(e.status_code, e.code, e.request_id)

    @staticmethod
    def _eni(s) -> Eni:
        ips = tuple((p.private_ip_address, p.primary) for p in s.private_ip_sets.private_ip_set)
        return Eni(s.network_interface_id, s.v_switch_id, ips)

    def _describe(self, req) -> list:
        body = self._ok(self.client.describe_network_interfaces_with_options(req, self.runtime))
        enis = body.network_interface_sets.network_interface_set
        assert body.total_count == len(enis), body.to_map()
        return [self._eni(s) for s in enis]

    def describe(self, eni: str) -> Eni:
        (found,) = self._describe(self._describe_one(eni))
        assert found.id == eni
        return found

    def snapshot(self) -> dict:
        return {e.id: e.ips for e in self._describe(self._describe_all())}


class TeaEcs(TeaDriver):
    client_class = EcsClient

    def assign(self, eni, ips=None, count=None) -> list:
        req = ecs_models.AssignPrivateIpAddressesRequest(
            region_id=self.dialect.region,
            network_interface_id=eni,
            private_ip_address=ips,
            secondary_private_ip_address_count=count,
        )
        body = self._ok(self.client.assign_private_ip_addresses_with_options(req, self.runtime))
        assigned = body.assigned_private_ip_addresses_set
        assert assigned.network_interface_id == eni
        return assigned.private_ip_set.private_ip_address

    def unassign(self, eni, ips) -> None:
        req = ecs_models.UnassignPrivateIpAddressesRequest(
            region_id=self.dialect.region, network_interface_id=eni, private_ip_address=ips
        )
        self._ok(self.client.unassign_private_ip_addresses_with_options(req, self.runtime))

    def _describe_one(self, eni):
        return ecs_models.DescribeNetworkInterfacesRequest(region_id=self.dialect.region, network_interface_id=[eni])

    def _describe_all(self):
        return ecs_models.DescribeNetworkInterfacesRequest(region_id=self.dialect.region, page_size=100)


class TeaEns(TeaDriver):
    client_class = EnsClient

    def assign(self, eni, vswitch=None) -> str:
        req = ens_models.AssignPrivateIpAddressesRequest(network_interface_id=eni, v_switch_id=vswitch)
        body = self._ok(self.client.assign_private_ip_addresses_with_options(req, self.runtime))
        assigned = body.assigned_private_ip_addresses_set
        assert assigned.network_interface_id == eni
        (ip,) = assigned.private_ip_set
        return ip

    def unassign(self, eni, ips) -> None:
        req = ens_models.UnassignPrivateIpAddressesRequest(network_interface_id=eni, private_ip_address=ips)
        self._ok(self.client.unassign_private_ip_addresses_with_options(req, self.runtime))

    def _describe_one(self, eni):
        return ens_models.DescribeNetworkInterfacesRequest(network_interface_id=eni)

    def _describe_all(self):
        return ens_models.DescribeNetworkInterfacesRequest(ens_region_id=self.dialect.region, page_size="100")


@pytest.fixture(params=SIGNINGS)
def signing(request):
    return request.param


@pytest.fixture
def ecs_sdk(emulator, ecs, signing):
    return TeaEcs(emulator, ecs, signing)


@pytest.fixture
def ens_sdk(emulator, ens, signing):
    return TeaEns(emulator, ens, signing)


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

DRIVERS = {"ecs": TeaEcs, "ens": TeaEns}

# (status, code) as this SDK reports them: the emulator's own, unrewritten.
KEY_ERRORS = {
    "wrong_secret": {"ecs": (400, "SignatureDoesNotMatch"), "ens": (400, "SignatureDoesNotMatch")},
    "unknown": {"ecs": (404, "InvalidAccessKeyId.NotFound"), "ens": (404, "InvalidAccessKeyId.NotFound")},
    "disabled": {"ecs": (403, "Abs.InvalidAccount.NotFound"), "ens": (403, "Abs.InvalidAccount.NotFound")},
    "ram_describe_only": {"ecs": (403, "Forbidden.SubUser"), "ens": (400, "NoPermission")},
}


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
@pytest.mark.parametrize("creds", list(KEY_ERRORS))
@pytest.mark.parametrize("api", list(DRIVERS))
def test_key_refused(request, emulator, signing, api, creds, op):
    dialect = request.getfixturevalue(api)
    driver = DRIVERS[api]
    bad, good = driver(emulator, dialect, signing, creds), driver(emulator, dialect, signing)
    sc.auth_refused(bad, good, dialect, op, KEY_ERRORS[creds][api])


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
@pytest.mark.parametrize("api", list(DRIVERS))
def test_stale_timestamp(request, emulator, stale_emulator, signing, api, op):
    dialect = request.getfixturevalue(api)
    driver = DRIVERS[api]
    bad, good = driver(stale_emulator, dialect, signing), driver(emulator, dialect, signing)
    sc.auth_refused(
        bad, good, dialect, op, (400, "InvalidTimeStamp.Expired"), lambda: raw_snapshot(stale_emulator, dialect)
    )

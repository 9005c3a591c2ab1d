"""qcloudapi-sdk-python 2.0.15 (Tencent Cloud's legacy API 2.0 SDK) against the
emulator's tencent-vpc-v2 dialect at /v2/index.php.

Re-pointed as SDKS.md B3 says, and otherwise unchanged: the Vpc module's
requestHost becomes 127.0.0.1:PORT (the host it signs and sends as Host) and its
HTTPS connection a plain HTTP one.
Signature: each test runs under SignatureMethod HmacSHA1 (the SDK's default) and
HmacSHA256, with method GET (the default: a query string) and POST (a form
body), SIGNING.md A3.
Replies: the SDK returns an HTTP 200 body as raw bytes, so the tests read the
JSON. Errors: HTTP 200 too, with a non-zero `code` and its `codeDesc`; the SDK
raises only for another HTTP status, so the tests check `code` themselves.
Asynchronous changes: Assign and Unassign return a taskId; the tests poll
DescribeVpcTaskResult every 0.2 s, for at most 10 s, until it is no longer 2.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest
from QcloudApi.modules.vpc import Vpc

import scenarios as sc
from scenarios import Eni, TcRefusal
from support import Dialect, Emulator

SIGNINGS = ["HmacSHA1", "HmacSHA256"]  # HmacSHA1: the SDK's default
METHODS = ["GET", "POST"]  # GET: the SDK's default

POLL_INTERVAL = 0.2  # seconds between two DescribeVpcTaskResult
POLL_TIMEOUT = 10.0  # the emulator's tasks take 2 s


class PlainHTTP(http.client.HTTPConnection):
    """The SDK's transport without TLS. The SDK's own MyHTTPSConnection counts
    the bytes it sends in `request_length`, which ApiRequest.send_request reads
    after every call: without the attribute every call fails."""

    request_length = 0


class QcloudDriver:
    def __init__(
        self, emu: Emulator, dialect: Dialect, signing: str, method: str, creds: str = "default", follow_clock=False
    ):
        key = dialect.credentials[creds]
        config = {
            "secretId": key["access_key_id"],
            "secretKey": key["access_key_secret"],
            "Region": dialect.region,  # capital R: the SDK ignores `region`
            "method": method,
            "SignatureMethod": signing,
        }
        self.svc = Vpc(config)
        # A class attribute (vpc.api.qcloud.com) that beats config['endpoint'].
        self.svc.requestHost = f"{emu.host}:{emu.port}"
        self.svc.apiRequest.conn = PlainHTTP(emu.host, emu.port)
        # follow_clock: send a Timestamp on the emulator's clock (the SDK keeps
        # a Timestamp the caller gives), to look at the clock-offset emulator.
        self.clock_offset = emu.clock_offset if follow_clock else None
        self.dialect = dialect
        self.tasks = []  # every taskId this driver started

    def _call(self, action: str, params: dict) -> dict:
        if self.clock_offset is not None:
            params = {**params, "Timestamp": int(time.time()) + self.clock_offset}
        raw = self.svc.call(action, params)
        assert isinstance(raw, bytes), type(raw)
        body = json.loads(raw)
        assert isinstance(body["code"], int) and isinstance(body["codeDesc"], str), body
        assert isinstance(body["message"], str), body
        return body

    @staticmethod
    def _ok(body: dict) -> dict:
        assert (body["code"], body["codeDesc"], body["message"]) == (0, "Success", ""), body
        return body["data"]

    def error(self, reply: dict) -> TcRefusal:
        assert reply["code"] != 0, reply
        assert "data" not in reply, reply
        return TcRefusal(reply["code"], reply["codeDesc"], reply["message"])

    # --- changes: each starts a task ---------------------------------------

    def assign_reply(self, eni, ips=None, count=None) -> dict:
        params = {"vpcId": self.dialect["vpc"], "networkInterfaceId": eni}
        if ips is not None:
            # Flattened 0-based: privateIpAddressSet.0.privateIpAddress, .0.primary.
            # Python's False goes out as "False", which the spec accepts.
            params["privateIpAddressSet"] = [{"privateIpAddress": ip, "primary": False} for ip in ips]
        if count is not None:
            params["secondaryPrivateIpAddressCount"] = count
        return self._call("AssignPrivateIpAddresses", params)

    def unassign_reply(self, eni, ips) -> dict:
        # privateIpAddress.0, privateIpAddress.1, ...
        params = {"vpcId": self.dialect["vpc"], "networkInterfaceId": eni, "privateIpAddress": list(ips)}
        return self._call("UnassignPrivateIpAddresses", params)

    def _task(self, reply: dict) -> int:
        task = self._ok(reply)["taskId"]
        assert isinstance(task, int) and task > 0, reply
        self.tasks.append(task)
        return task

    def assign(self, eni, ips=None, count=None) -> int:
        return self._task(self.assign_reply(eni, ips=ips, count=count))

    def unassign(self, eni, ips) -> int:
        return self._task(self.unassign_reply(eni, ips))

    # --- tasks -----------------------------------------------------------------

    def status(self, task: int) -> int:
        status = self._ok(self._call("DescribeVpcTaskResult", {"taskId": task}))["status"]
        assert status in (0, 1, 2), status
        return status

    def wait(self, task: int) -> int:
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            status = self.status(task)
            if status != 2:
                return status
            if time.monotonic() >= deadline:
                raise AssertionError(f"task {task} still running (data.status 2) after {POLL_TIMEOUT} s")
            time.sleep(POLL_INTERVAL)

    def settle(self) -> None:
        for task in self.tasks:
            self.wait(task)
        self.tasks.clear()

    # --- reading ---------------------------------------------------------------

    @staticmethod
    def _eni(s: dict) -> Eni:
        ips = tuple((p["privateIpAddress"], p["primary"]) for p in s["privateIpAddressesSet"])
        return Eni(s["networkInterfaceId"], s["subnetId"], ips)

    def _describe(self, params: dict) -> list:
        data = self._ok(self._call("DescribeNetworkInterfaces", params))
        enis = data["data"]
        assert data["totalNum"] == len(enis), data
        return [self._eni(s) for s in enis]

    def describe(self, eni: str) -> Eni:
        (found,) = self._describe({"networkInterfaceId": eni})
        assert found.id == eni
        return found

    def snapshot(self) -> dict:
        # limit: at most 50 a page (default 20); the world has fewer ENIs.
        return {e.id: e.ips for e in self._describe({"limit": 50})}


@pytest.fixture(params=SIGNINGS)
def signing(request):
    return request.param


@pytest.fixture(params=METHODS)
def method(request):
    return request.param


@pytest.fixture
def tc_sdk(emulator, tencent, signing, method):
    return QcloudDriver(emulator, tencent, signing, method)


# --- Whole cycles and the busy ENI ---------------------------------------------


def test_cycle_explicit(tc_sdk, tencent):
    sc.tc_cycle_explicit(tc_sdk, tencent)


def test_cycle_count(tc_sdk, tencent):
    sc.tc_cycle_count(tc_sdk, tencent)


def test_busy(tc_sdk, tencent):
    sc.tc_busy(tc_sdk, tencent)


# --- Refused changes -------------------------------------------------------------


@pytest.mark.parametrize("op", ["assign", "unassign"])
@pytest.mark.parametrize("which", ["unknown", "other_account"])
def test_eni_not_found(tc_sdk, tencent, which, op):
    sc.tc_eni_not_found(tc_sdk, tencent, which, op)


# --- Authentication ---------------------------------------------------------

# (code, codeDesc) of the reply, which comes in HTTP 200 (SIGNING.md A3).
KEY_ERRORS = {
    "wrong_secret": (4100, "AuthFailure"),
    "unknown": (4104, "AuthFailure.SecretIdNotFound"),
}


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
@pytest.mark.parametrize("creds", list(KEY_ERRORS))
def test_key_refused(emulator, tencent, signing, method, creds, op):
    bad = QcloudDriver(emulator, tencent, signing, method, creds)
    good = QcloudDriver(emulator, tencent, signing, method)
    sc.tc_auth_refused(bad, good, tencent, op, KEY_ERRORS[creds])


@pytest.mark.parametrize("op", sc.AUTH_OPERATIONS)
def test_stale_timestamp(emulator, stale_emulator, tencent, signing, method, op):
    bad = QcloudDriver(stale_emulator, tencent, signing, method)
    good = QcloudDriver(emulator, tencent, signing, method)
    look = QcloudDriver(stale_emulator, tencent, signing, method, follow_clock=True)
    sc.tc_auth_refused(bad, good, tencent, op, (4500, "ReplayAttack"), look.snapshot)

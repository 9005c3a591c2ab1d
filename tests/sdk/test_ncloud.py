"""ncloud-vserver 1.0.1 with ncloud-apikey 1.0.5 (NAVER Cloud's Python SDK for
the Server (VPC) API) against the emulator's naver-vpc dialect at
/vserver/v2/<action>.

Re-pointed as SDKS.md B5 says, and otherwise unchanged: Configuration().host
becomes http://127.0.0.1:PORT/vserver/v2; the keys come from the world's
fixtures through ncloud_apikey.NcloudKey, into Configuration().access_key and
.secret_key.
Signature: the SDK's only one, SIGNING.md A4 sent as x-ncp-apigw-signature-v1,
over the path and the *unencoded* query (the form body of a POST is not
signed).
Changes: 1.0.1 has no method for assignSecondaryIps or unassignSecondaryIps;
the tests send them through the SDK's signed generic ApiClient.call_api, as GET
(a query string) and as POST (responseFormatType=json in the query, the rest a
form body, Content-Type application/x-www-form-urlencoded: what the generated
methods send).
Reads: the generated get_network_interface_detail and
get_network_interface_list (POST with a form body). Their NetworkInterface
model drops secondaryIpList, so the secondaries are read from the raw reply of
the same call (ApiClient.last_response, or _preload_content=False).
Errors: a non-2xx raises ncloud_vserver.rest.ApiException (.status, .body:
the JSON or XML text, unparsed).
SET: after a change an interface reads SET for 3 s (the world's change_delay);
the tests poll getNetworkInterfaceDetail every 0.2 s, for at most 30 s.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

import ncloud_vserver
import pytest
from ncloud_apikey.ncloud_key import NcloudKey
from ncloud_vserver.api.v2_api import V2Api
from ncloud_vserver.rest import ApiException

import scenarios as sc
from scenarios import Nic, NvRefusal
from support import Dialect, Emulator, naver_raw_list, ncp_signature

METHODS = ["GET", "POST"]  # how the changes go out through call_api

POLL_INTERVAL = 0.2  # seconds between two reads of a SET interface
POLL_TIMEOUT = 30.0  # the emulator's SET lasts 3 s

AUTH = ["x-ncp-iam"]  # the SDK's one auth setting: the A4 headers
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def isolated_keys(monkeypatch, tmp_path):
    """ncloud-apikey keeps the keys of the last NcloudKey({...}) in class
    attributes, and NcloudKey().keys() hands them to whoever asks next, or,
    when there are none, reads ~/.ncloud/configure (a developer's real keys).
    Each test starts and ends with none, HOME is an empty directory so that
    no configure file is ever read, and no test may leave keys in the
    Configuration default that every Configuration() copies."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NCLOUD_API_GW", raising=False)
    NcloudKey.ACCESS_KEY = NcloudKey.SECRET_KEY = ""
    yield
    NcloudKey.ACCESS_KEY = NcloudKey.SECRET_KEY = ""
    default = ncloud_vserver.Configuration._default
    assert default is None or (default.access_key, default.secret_key) == ("", ""), "keys leaked into the default"


def _headers(resp):
    """The headers of a reply: urllib3's response, or the SDK's RESTResponse around it."""
    return getattr(resp, "urllib3_response", resp).headers


class NcloudDriver:
    def __init__(self, emu: Emulator, dialect: Dialect, method: str = "GET", creds: str = "default"):
        key = dialect.credentials[creds]
        keys = NcloudKey({"access_key": key["access_key_id"], "secret_key": key["access_key_secret"]}).keys()
        config = ncloud_vserver.Configuration()  # a copy of the class's default
        # B5: the default https://ncloud.apigw.ntruss.com/vserver/v2 (or
        # $NCLOUD_API_GW + /vserver/v2, read once, when the default is made).
        config.host = f"{emu.url}/vserver/v2"
        config.access_key = keys["access_key"]
        config.secret_key = keys["secret_key"]
        self.client = ncloud_vserver.ApiClient(config)
        self.api = V2Api(self.client)
        self.method = method
        self.dialect = dialect

    # --- replies and errors --------------------------------------------------

    @staticmethod
    def reply(action: str, resp) -> dict:
        """The `<action>Response` of a JSON reply, checked."""
        assert resp.status == 200, resp.status
        assert _headers(resp)["Content-Type"].startswith("application/json"), _headers(resp)
        body = json.loads(resp.data)
        assert list(body) == [f"{action}Response"], body
        reply = body[f"{action}Response"]
        assert (reply["returnCode"], reply["returnMessage"]) == ("0", "success"), reply
        assert reply["requestId"], reply
        return reply

    def error(self, call) -> NvRefusal:
        with pytest.raises(ApiException) as info:
            call()
        e = info.value
        assert type(e) is ApiException, type(e)
        # JSON: every call asks for it, and the gateway answers nothing else.
        assert e.headers["Content-Type"].startswith("application/json"), e.headers
        body = json.loads(e.body)  # str, or bytes with _preload_content=False
        (shape,) = body
        if shape == "responseError":
            assert set(body[shape]) == {"returnCode", "returnMessage"}, body
            return NvRefusal(e.status, shape, body[shape]["returnCode"], body[shape]["returnMessage"])
        assert shape == "error", body
        assert set(body[shape]) == {"errorCode", "message", "details"}, body
        return NvRefusal(e.status, shape, body[shape]["errorCode"], body[shape]["message"])

    # --- changes: call_api, GET or POST ------------------------------------------

    def call(self, action: str, params: dict, method: str | None = None, **kwargs):
        """`action` through ApiClient.call_api, signed; the raw urllib3 response.

        GET: every parameter in the query, lists flattened 1-based by hand
        (name.1, name.2), every value a str: the SDK's signer concatenates
        them (an int or a bool raises TypeError). POST: responseFormatType in
        the query, the rest a dict that the SDK flattens into a form body
        itself (lists 1-based, values through str(): Python's True goes out as
        "True").
        """
        method = method or self.method
        params = {"regionCode": self.dialect.region, **params}
        kwargs.setdefault("_preload_content", False)
        if method == "GET":
            query = [("responseFormatType", "json")]
            for name, value in params.items():
                if isinstance(value, list):
                    query += [(f"{name}.{i}", str(v)) for i, v in enumerate(value, 1)]
                else:
                    query.append((name, value if isinstance(value, str) else json.dumps(value)))
            return self.client.call_api(
                f"/{action}", "GET", query_params=query, auth_settings=AUTH, _return_http_data_only=True, **kwargs
            )
        assert method == "POST", method
        return self.client.call_api(
            f"/{action}",
            "POST",
            query_params=[("responseFormatType", "json")],
            header_params={"Content-Type": FORM},
            body=params,
            auth_settings=AUTH,
            _return_http_data_only=True,
            **kwargs,
        )

    def _change(self, action: str, params: dict) -> Nic:
        reply = self.reply(action, self.call(action, params))
        assert reply["totalRows"] == 1, reply
        (nic,) = reply["networkInterfaceList"]
        return sc.nv_nic(nic)

    def assign(self, eni, ips=None, count=None, reassign=None) -> Nic:
        params = {"networkInterfaceNo": eni}
        if ips is not None:
            params["secondaryIpList"] = list(ips)
        if count is not None:
            params["secondaryIpCount"] = count
        if reassign is not None:
            params["allowReassign"] = reassign
        return self._change("assignSecondaryIps", params)

    def unassign(self, eni, ips) -> Nic:
        return self._change("unassignSecondaryIps", {"networkInterfaceNo": eni, "secondaryIpList": list(ips)})

    # --- reads: the generated methods ----------------------------------------------

    def detail(self, eni: str) -> list:
        """get_network_interface_detail: the model for what it knows, the raw
        reply of the same call (last_response) for secondaryIpList."""
        req = ncloud_vserver.GetNetworkInterfaceDetailRequest(region_code=self.dialect.region, network_interface_no=eni)
        model = self.api.get_network_interface_detail(req)
        assert isinstance(model, ncloud_vserver.GetNetworkInterfaceDetailResponse), type(model)
        raw = self.reply("getNetworkInterfaceDetail", self.client.last_response)
        assert (model.return_code, model.request_id, model.total_rows) == ("0", raw["requestId"], raw["totalRows"])
        items = model.network_interface_list or []
        assert len(items) == len(raw["networkInterfaceList"]) == raw["totalRows"], raw
        nics = []
        for m, r in zip(items, raw["networkInterfaceList"]):
            nic = sc.nv_nic(r)
            assert (m.network_interface_no, m.subnet_no, m.network_interface_status.code, m.ip) == nic[:4], (m, r)
            assert m.network_interface_name == r["networkInterfaceName"]
            nics.append(nic)
        return nics

    def describe(self, eni: str) -> Nic:
        (nic,) = self.detail(eni)
        assert nic.id == eni
        return nic

    def snapshot(self) -> dict:
        """get_network_interface_list with _preload_content=False: the raw reply."""
        req = ncloud_vserver.GetNetworkInterfaceListRequest(region_code=self.dialect.region)
        reply = self.reply("getNetworkInterfaceList", self.api.get_network_interface_list(req, _preload_content=False))
        nics = reply["networkInterfaceList"]
        assert reply["totalRows"] == len(nics), reply
        return {n["networkInterfaceNo"]: sc.nv_nic(n) for n in nics}

    # --- SET ------------------------------------------------------------------------

    def wait(self, eni: str) -> Nic:
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            nic = self.describe(eni)
            if nic.status in sc.NV_STEADY:
                return nic
            assert nic.status in ("SET", "UNSET"), nic
            if time.monotonic() >= deadline:
                raise AssertionError(f"interface {eni} still {nic.status} after {POLL_TIMEOUT} s")
            time.sleep(POLL_INTERVAL)

    def settle(self) -> dict:
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            snapshot = self.snapshot()
            busy = {eni: nic.status for eni, nic in snapshot.items() if nic.status not in sc.NV_STEADY}
            if not busy:
                return snapshot
            if time.monotonic() >= deadline:
                raise AssertionError(f"interfaces still changing after {POLL_TIMEOUT} s: {busy}")
            time.sleep(POLL_INTERVAL)


@pytest.fixture(params=METHODS)
def method(request):
    return request.param


@pytest.fixture
def nv_sdk(emulator, naver, method):
    return NcloudDriver(emulator, naver, method)


# --- Whole cycles, reassignment, the busy interface -----------------------------------


def test_cycle(nv_sdk, naver):
    sc.nv_cycle(nv_sdk, naver)


# One method each: their waits are the suite's slowest (3 s a SET).
@pytest.mark.parametrize("method", ["POST"])
def test_reassign(nv_sdk, naver):
    sc.nv_reassign(nv_sdk, naver)


@pytest.mark.parametrize("method", ["GET"])
def test_busy(nv_sdk, naver):
    sc.nv_busy(nv_sdk, naver)


# --- Refused changes and the no-op --------------------------------------------------------


@pytest.mark.parametrize("case", list(sc.NV_OVER_LIMIT))
def test_over_limit(nv_sdk, naver, case):
    sc.nv_over_limit(nv_sdk, naver, case)


def test_noop(nv_sdk, naver):
    sc.nv_noop(nv_sdk, naver)


@pytest.mark.parametrize("case", list(sc.NV_IP_REFUSED))
def test_ip_refused(nv_sdk, naver, case):
    sc.nv_ip_refused(nv_sdk, naver, case)


def test_unassign_primary(nv_sdk, naver):
    sc.nv_primary(nv_sdk, naver)


@pytest.mark.parametrize("op", ["assign", "unassign"])
@pytest.mark.parametrize("which", ["unknown", "other_account"])
def test_not_found(nv_sdk, naver, which, op):
    sc.nv_not_found(nv_sdk, naver, which, op)


@pytest.mark.parametrize("which", ["unknown", "other_account"])
def test_detail_not_found(emulator, naver, which):
    sc.nv_not_found(NcloudDriver(emulator, naver), naver, which, "describe")


# --- Authentication ---------------------------------------------------------------------


# Each operation of sc.NV_AUTH_OPERATIONS with the methods it goes out with:
# the changes by call_api as GET and as POST, describe by the generated POST.
AUTH_CALLS = [(op, m) for op in sc.NV_AUTH_OPERATIONS if op != "describe" for m in METHODS] + [("describe", "POST")]


@pytest.mark.parametrize("op, method", AUTH_CALLS)
@pytest.mark.parametrize("creds", ["unknown", "wrong_secret"])
def test_key_refused(emulator, naver, method, creds, op):
    # Both drivers in one test: each keeps its own keys although NcloudKey
    # has held the bad ones, then the good ones.
    bad = NcloudDriver(emulator, naver, method, creds)
    good = NcloudDriver(emulator, naver, method)
    sc.nv_auth_refused(bad, good, naver, op)


@pytest.mark.parametrize("op, method", AUTH_CALLS)
def test_stale_timestamp(emulator, stale_emulator, naver, method, op):
    """Every SDK timestamp is an hour behind that emulator's clock."""
    bad = NcloudDriver(stale_emulator, naver, method)
    good = NcloudDriver(emulator, naver, method)

    def look():
        return {n["networkInterfaceNo"]: sc.nv_nic(n) for n in naver_raw_list(stale_emulator, naver)}

    sc.nv_auth_refused(bad, good, naver, op, look)


def test_unsigned(emulator, naver):
    """An empty access key: the SDK skips its auth setting and sends no
    signature headers at all; the gateway's 401 all the same."""
    bad = NcloudDriver(emulator, naver)
    bad.client.configuration.access_key = ""
    good = NcloudDriver(emulator, naver)
    sc.nv_auth_refused(bad, good, naver, "assign")


@pytest.mark.parametrize("creds", ["unknown", "wrong_secret"])
def test_gateway_message(emulator, naver, creds):
    bad = NcloudDriver(emulator, naver, creds=creds)
    refusal = bad.error(lambda: bad.describe(naver["eni.available"]))
    assert refusal == NvRefusal(401, "error", "200", "Authentication Failed")


# --- What the SDK signs, and what it sends ------------------------------------------------

# Filters whose values need percent-encoding. The world names no subnet and no
# server, and no interface is called so: each matches nothing, in a 200.
ENCODED_FILTERS = {
    "subnetName": "subnet a/b",
    "serverName": "x&y=z+w #1",
    "networkInterfaceName": "nic a/ü~*'()",
}


@pytest.mark.parametrize("name", list(ENCODED_FILTERS))
def test_encoded_query(emulator, naver, name):
    """The SDK signs the query unencoded and sends it encoded (B5): the
    emulator must verify the decoded query (A4), so the call authenticates."""
    value = ENCODED_FILTERS[name]
    sdk = NcloudDriver(emulator, naver, "GET")
    resp = sdk.call("getNetworkInterfaceList", {name: value})
    reply = sdk.reply("getNetworkInterfaceList", resp)
    assert (reply["totalRows"], reply["networkInterfaceList"]) == (0, []), reply
    # What went on the wire was encoded, so it is not what the SDK signed.
    sent = urllib.parse.urlsplit(resp.url).query
    assert f"&{name}=" in sent and value not in sent, sent
    assert dict(urllib.parse.parse_qsl(sent))[name] == value, sent

    # The filter is read: the interface's own name finds it, and only it.
    eni = naver["eni.available"]
    resp = sdk.call("getNetworkInterfaceList", {"networkInterfaceName": f"nic-{eni}"})
    reply = sdk.reply("getNetworkInterfaceList", resp)
    assert [n["networkInterfaceNo"] for n in reply["networkInterfaceList"]] == [eni], reply
    # And the signature is checked on this path: the same request with a wrong secret is refused.
    bad = NcloudDriver(emulator, naver, "GET", "wrong_secret")
    assert bad.error(lambda: bad.call("getNetworkInterfaceList", {name: value}))[:3] == sc.NV_AUTH_FAILED

    # The generated POST puts the filter in the form body, which is not signed.
    req = ncloud_vserver.GetNetworkInterfaceListRequest(region_code=naver.region, **{_snake(name): value})
    model = sdk.api.get_network_interface_list(req)
    assert (model.return_code, model.total_rows, model.network_interface_list) == ("0", 0, []), model


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def test_signer_vector(emulator, naver):
    """SIGNING.md A4-1 by the SDK's own signer and by the suite's (the stale
    emulator is looked at with the latter)."""
    expected = "yCZKd4kYNaoPwYpu5dJzc54B32abgch8Ts/nfcoVYwk="
    sdk = NcloudDriver(emulator, naver)
    sdk.client.configuration.access_key = "ncpAccessKeyExample"
    sdk.client.configuration.secret_key = "ncpSecretKeyExample"
    signed = sdk.client.make_signature("GET", "/getRegionList", [("responseFormatType", "json")], "1700000000000")
    assert signed.decode() == expected
    assert (
        ncp_signature(
            "GET",
            "/vserver/v2/getRegionList?responseFormatType=json",
            "1700000000000",
            "ncpAccessKeyExample",
            "ncpSecretKeyExample",
        )
        == expected
    )


# --- XML and the model ------------------------------------------------------------------


def _xml_nic(element) -> Nic:
    return Nic(
        element.findtext("networkInterfaceNo"),
        element.findtext("subnetNo"),
        element.findtext("networkInterfaceStatus/code"),
        element.findtext("ip"),
        tuple(ip.text for ip in element.findall("secondaryIpList/secondaryIp")),
    )


def _get_xml(sdk: NcloudDriver, action: str, params: list):
    """call_api GET without responseFormatType (the SDK adds it only in its
    generated methods): NAVER's default format, XML. The raw response."""
    return sdk.client.call_api(
        f"/{action}",
        "GET",
        query_params=params,
        auth_settings=AUTH,
        _preload_content=False,
        _return_http_data_only=True,
    )


def test_xml(emulator, naver):
    """An XML read with the JSON reply's content; a service error in XML too;
    the gateway's in JSON whatever was asked for."""
    sdk = NcloudDriver(emulator, naver, "GET")
    eni = naver["eni.with_secondaries"]
    params = [("regionCode", naver.region), ("networkInterfaceNo", eni)]

    resp = _get_xml(sdk, "getNetworkInterfaceDetail", params)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/xml"), resp.headers
    root = ET.fromstring(resp.data)
    assert root.tag == "getNetworkInterfaceDetailResponse"
    assert (root.findtext("returnCode"), root.findtext("returnMessage"), root.findtext("totalRows")) == (
        "0",
        "success",
        "1",
    )
    (element,) = root.findall("networkInterfaceList/networkInterface")
    nic = _xml_nic(element)
    assert nic == sdk.describe(eni)
    assert nic.secondaries == (naver["subnet.taken_ip"], naver["subnet.taken_ip_2"])

    # A service error (the primary cannot be unassigned) in XML, changing nothing.
    primary = [("secondaryIpList.1", naver["eni.with_secondaries.ip"])]
    with pytest.raises(ApiException) as info:
        _get_xml(sdk, "unassignSecondaryIps", params + primary)
    e = info.value
    assert e.status == 400 and e.headers["Content-Type"].startswith("application/xml"), (e.status, e.headers)
    error = ET.fromstring(e.body)
    assert (error.tag, error.findtext("returnCode")) == ("responseError", sc.NV_PRIMARY[2])
    assert error.findtext("returnMessage")
    assert sdk.describe(eni) == nic

    # The gateway answers before the service reads responseFormatType: JSON.
    bad = NcloudDriver(emulator, naver, "GET", "unknown")
    refusal = bad.error(lambda: _get_xml(bad, "getNetworkInterfaceDetail", params))
    assert refusal[:3] == sc.NV_AUTH_FAILED


def test_model_drops_secondaries(emulator, naver):
    """The 1.0.1 NetworkInterface model has no secondaryIpList: the typed read
    loses the addresses the raw reply (_preload_content=False) carries."""
    sdk = NcloudDriver(emulator, naver)
    eni = naver["eni.with_secondaries"]
    req = ncloud_vserver.GetNetworkInterfaceDetailRequest(region_code=naver.region, network_interface_no=eni)
    (typed,) = sdk.api.get_network_interface_detail(req).network_interface_list
    assert not hasattr(typed, "secondary_ip_list") and "secondary_ip_list" not in typed.to_dict()
    assert typed.network_interface_status.code == "NOTUSED"
    raw = sdk.reply("getNetworkInterfaceDetail", sdk.api.get_network_interface_detail(req, _preload_content=False))
    (item,) = raw["networkInterfaceList"]
    assert item["secondaryIpList"] == [naver["subnet.taken_ip"], naver["subnet.taken_ip_2"]]
    assert sc.nv_nic(item)[:4] == (typed.network_interface_no, typed.subnet_no, "NOTUSED", typed.ip)


def _typed(sdk: NcloudDriver, eni: str):
    req = ncloud_vserver.GetNetworkInterfaceDetailRequest(region_code=sdk.dialect.region, network_interface_no=eni)
    (typed,) = sdk.api.get_network_interface_detail(req).network_interface_list
    return typed


def test_attached_fields(emulator, naver):
    """An attached interface names its server: instanceNo, instanceType VSVR, deviceName."""
    typed = _typed(NcloudDriver(emulator, naver), naver["eni.inuse"])
    assert typed.network_interface_status.code == "USED"
    assert typed.instance_no == naver["instance"]
    assert typed.instance_type.code == "VSVR"
    assert typed.device_name in ("eth0", "eth1", "eth2"), typed.device_name


def test_unattached_fields(emulator, naver):
    typed = _typed(NcloudDriver(emulator, naver), naver["eni.available"])
    assert typed.network_interface_status.code == "NOTUSED"
    assert (typed.instance_no, typed.instance_type, typed.device_name) == (None, None, None), typed

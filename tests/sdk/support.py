"""The suite's shared vocabulary: emulator endpoints, a dialect's fixtures, and
SDK-independent describes for the emulator whose clock runs ahead (Alibaba's
RPC v1, NAVER's API Gateway signature)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

ECS = "alibaba-ecs"
ENS = "alibaba-ens"
TENCENT = "tencent-vpc-v2"
NAVER = "naver-vpc"
API_VERSION = {ECS: "2014-05-26", ENS: "2017-11-10"}

# ENI ids that no account of the world holds; checked against the world file.
# NAVER's are numbers (networkInterfaceNo: a positive 32-bit integer).
UNKNOWN_ENI = {
    ECS: "eni-bp1sdk0doesnotexist01",
    ENS: "eni-5sdk0doesnotexist1",
    TENCENT: "eni-sdk0tcnone1",
    NAVER: "39999",
}


@dataclass(frozen=True)
class Emulator:
    url: str
    host: str
    port: int
    clock_offset: int  # seconds the emulator's clock runs ahead of this machine's

    @classmethod
    def from_url(cls, url: str, clock_offset: int = 0) -> Emulator:
        parsed = urllib.parse.urlsplit(url)
        assert parsed.scheme == "http" and parsed.hostname == "127.0.0.1" and parsed.port, url
        return cls(url=url, host=parsed.hostname, port=parsed.port, clock_offset=clock_offset)


@dataclass(frozen=True)
class Dialect:
    """One dialect's fixtures: `values`, `credentials` and every ENI id of the world."""

    name: str
    values: dict
    credentials: dict  # name -> {access_key_id, access_key_secret}
    enis: frozenset

    def __getitem__(self, key: str) -> str:
        return str(self.values[key])

    @property
    def version(self) -> str:
        return API_VERSION[self.name]

    @property
    def region(self) -> str:
        """ECS: the RegionId; ENS: the edge region (EnsRegionId); Tencent: the
        Region; NAVER: the regionCode."""
        return self["ens_region"] if self.name == ENS else self["region"]

    @property
    def unknown_eni(self) -> str:
        return UNKNOWN_ENI[self.name]


# --- Helpers --------------------------------------------------------------


def in_cidr(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def raw_snapshot(emu: Emulator, dialect: Dialect, creds: str = "default") -> dict:
    """Every ENI of the account in the dialect's region, as {eni: ((ip, primary), ...)}.

    An SDK-independent v1-signed DescribeNetworkInterfaces (SIGNING.md A1)
    whose Timestamp follows the emulator's clock: the only way to look at the
    state of the clock-offset emulator, which refuses every SDK's timestamp.
    """
    key = dialect.credentials[creds]
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=emu.clock_offset)
    params = {
        "Action": "DescribeNetworkInterfaces",
        "Version": dialect.version,
        "Format": "JSON",
        "AccessKeyId": key["access_key_id"],
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PageSize": "100",
        ("RegionId" if dialect.name == ECS else "EnsRegionId"): dialect.region,
    }

    def enc(s: str) -> str:
        return urllib.parse.quote(s, safe="-_.~")

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    string_to_sign = "POST&%2F&" + enc(canonical)
    digest = hmac.new((key["access_key_secret"] + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    params["Signature"] = base64.b64encode(digest).decode()
    url = emu.url + "/?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, method="POST", data=b""), timeout=10) as resp:
        body = json.loads(resp.read())
    enis = body["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    assert body["TotalCount"] == len(enis)
    return {
        e["NetworkInterfaceId"]: tuple(
            (p["PrivateIpAddress"], p["Primary"]) for p in e["PrivateIpSets"]["PrivateIpSet"]
        )
        for e in enis
    }


# --- NAVER ------------------------------------------------------------------


def ncp_signature(method: str, path_and_query: str, timestamp: str, access_key: str, secret_key: str) -> str:
    """SIGNING.md A4: Base64(HMAC-SHA256(secret, METHOD + " " + path?query + "\n" + timestamp + "\n" + key))."""
    message = f"{method} {path_and_query}\n{timestamp}\n{access_key}"
    return base64.b64encode(hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def naver_raw_list(emu: Emulator, dialect: Dialect, creds: str = "default") -> list:
    """Every interface of the account in the dialect's region: the raw
    networkInterfaceList of getNetworkInterfaceList (JSON).

    Signed independently of the SDK (SIGNING.md A4, the documented
    x-ncp-apigw-signature-v2 header) with a timestamp on the emulator's
    clock: the only way to look at the clock-offset emulator, which refuses
    every timestamp the SDK makes.
    """
    assert dialect.name == NAVER, dialect.name
    key = dialect.credentials[creds]
    query = f"responseFormatType=json&regionCode={dialect.region}"
    path = "/vserver/v2/getNetworkInterfaceList"
    timestamp = str(int((datetime.datetime.now(datetime.timezone.utc).timestamp() + emu.clock_offset) * 1000))
    headers = {
        "x-ncp-apigw-timestamp": timestamp,
        "x-ncp-iam-access-key": key["access_key_id"],
        "x-ncp-apigw-signature-v2": ncp_signature(
            "GET", f"{path}?{query}", timestamp, key["access_key_id"], key["access_key_secret"]
        ),
    }
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{emu.url}{path}?{query}", headers=headers, method="GET")
    with opener.open(request, timeout=10) as resp:
        body = json.loads(resp.read())
    reply = body["getNetworkInterfaceListResponse"]
    assert reply["returnCode"] == "0", reply
    assert reply["totalRows"] == len(reply["networkInterfaceList"]), reply
    return reply["networkInterfaceList"]

"""What every SDK must be able to do against the emulator, written once.

Each test module wraps one SDK in drivers with the same small interface and
calls these functions; the drivers are where the SDKs differ (how a request is
built, how a reply is read, which exception an error raises).

ECS driver: assign(eni, ips=None, count=None) -> [ip], unassign(eni, ips),
describe(eni) -> Eni, snapshot() -> {eni: ((ip, primary), ...)}, error(call) -> Refusal.
ENS driver: the same, but assign(eni, vswitch=None) -> ip (ENS assigns one
address per call and takes no address list).
Tencent (legacy v2) driver: assign(eni, ips=None, count=None) -> taskId and
unassign(eni, ips) -> taskId start a task and return at once; status(task) ->
its data.status now; wait(task) -> its last data.status (DescribeVpcTaskResult
polled until it is not 2); settle() waits for every task the driver started;
describe, snapshot as above; assign_reply(...) and unassign_reply(...) -> the
parsed reply, unchecked; error(reply) -> TcRefusal (errors come back in HTTP
200 with a non-zero code: nothing raises).
NAVER (naver-vpc) driver: assign(eni, ips=None, count=None, reassign=None)
and unassign(eni, ips) -> Nic, the interface as the reply shows it (already
changed, in SET); detail(eni) -> [Nic] (empty for an interface the caller
cannot see); describe(eni) -> Nic; snapshot() -> {eni: Nic}; wait(eni) -> Nic
(polled until it has left SET); settle() -> snapshot() once no interface is
in SET; error(call) -> NvRefusal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextlib import contextmanager
from typing import NamedTuple

from support import ECS, ENS, NAVER, TENCENT, Dialect, in_cidr


class Eni(NamedTuple):
    id: str
    vswitch_id: str
    ips: tuple  # ((ip, primary), ...) as PrivateIpSets lists them


class Refusal(NamedTuple):
    status: int
    code: str
    request_id: str


class TcRefusal(NamedTuple):
    """A Tencent legacy error: HTTP 200 with a non-zero `code`, its `codeDesc` and `message`."""

    code: int
    code_desc: str
    message: str


class Nic(NamedTuple):
    """A NAVER network interface as its JSON (or XML) reply shows it."""

    id: str  # networkInterfaceNo
    subnet: str  # subnetNo
    status: str  # networkInterfaceStatus.code: SET, UNSET, USED, NOTUSED
    ip: str  # the primary address
    secondaries: tuple  # secondaryIpList, in the order the reply lists it


class NvRefusal(NamedTuple):
    """A NAVER error: the service's {"responseError": {returnCode, returnMessage}}
    or the API gateway's {"error": {errorCode, message, details}}."""

    status: int
    shape: str  # "responseError" or "error"
    code: str
    message: str


def secondaries(eni: Eni) -> list:
    return [ip for ip, primary in eni.ips if not primary]


def held_anywhere(snapshot: dict) -> set:
    return {ip for ips in snapshot.values() for ip, _ in ips}


def added_since(before: dict, after: dict):
    """Per ENI of snapshot `after`, the secondary addresses `before` did not hold."""
    for eni, ips in after.items():
        added = [ip for ip, primary in ips if not primary and (ip, primary) not in before.get(eni, ())]
        if added:
            yield eni, added


@contextmanager
def restored(sdk):
    """Put back the region as it was: unassign every address the block added.

    A test's own try/finally: whatever happens inside, the next test starts
    from the same world.
    """
    before = sdk.snapshot()
    try:
        yield before
    finally:
        for eni, added in added_since(before, sdk.snapshot()):
            sdk.unassign(eni, added)
        assert sdk.snapshot() == before, "the test left the world changed"


def refused(sdk, call: Callable, expected: tuple, snapshot: Callable) -> Refusal:
    """`call` must raise the SDK's own error with `expected` (status, code), changing nothing."""
    before = snapshot()
    refusal = sdk.error(call)
    assert (refusal.status, refusal.code) == expected, refusal
    assert refusal.request_id, "the SDK did not read the error's RequestId"
    assert snapshot() == before, "a refused call changed the world"
    return refusal


# --- ECS --------------------------------------------------------------------


def ecs_cycle_explicit(sdk, ecs: Dialect):
    eni = ecs["eni.available"]
    ips = [ecs["vswitch.free_ip"], ecs["vswitch.free_ip_2"]]
    with restored(sdk) as world:
        assert not set(ips) & held_anywhere(world)
        before = sdk.describe(eni)
        assert before.ips[0] == (ecs["eni.available.primary_ip"], True)

        assert sdk.assign(eni, ips=ips) == ips
        after = sdk.describe(eni)
        assert after.ips == before.ips + tuple((ip, False) for ip in ips)

        sdk.unassign(eni, ips)
        assert sdk.describe(eni) == before


def ecs_cycle_count(sdk, ecs: Dialect):
    eni = ecs["eni.available"]
    with restored(sdk) as world:
        before = sdk.describe(eni)
        ips = sdk.assign(eni, count=2)
        assert len(ips) == 2 and len(set(ips)) == 2, ips
        for ip in ips:
            assert in_cidr(ip, ecs["vswitch.cidr"]), ip
            assert ip not in held_anywhere(world), ip
        after = sdk.describe(eni)
        assert after.ips == before.ips + tuple((ip, False) for ip in ips)

        sdk.unassign(eni, ips)
        assert sdk.describe(eni) == before


def ecs_unknown_eni(sdk, ecs: Dialect, which: str, op: str):
    eni = ecs.unknown_eni if which == "unknown" else ecs["eni.other_account"]
    call = {
        "assign": lambda: sdk.assign(eni, ips=[ecs["vswitch.free_ip"]]),
        "unassign": lambda: sdk.unassign(eni, [ecs["vswitch.free_ip"]]),
    }[op]
    with restored(sdk):
        refused(sdk, call, (404, "InvalidEniId.NotFound"), sdk.snapshot)


def ecs_ip_assigned(sdk, ecs: Dialect):
    """An address another ENI holds: 403 InvalidIp.IpAssigned."""
    with restored(sdk) as world:
        taken = ecs["vswitch.taken_ip"]
        assert (taken, False) in world[ecs["eni.with_secondaries"]]
        call = lambda: sdk.assign(ecs["eni.available"], ips=[ecs["vswitch.free_ip"], taken])
        refused(sdk, call, (403, "InvalidIp.IpAssigned"), sdk.snapshot)


def ecs_ip_unassigned(sdk, ecs: Dialect):
    """Unassigning an address of another ENI: 403 InvalidIp.IpUnassigned."""
    with restored(sdk):
        call = lambda: sdk.unassign(ecs["eni.available"], [ecs["vswitch.taken_ip"]])
        refused(sdk, call, (403, "InvalidIp.IpUnassigned"), sdk.snapshot)


# --- ENS --------------------------------------------------------------------


def ens_cycle(sdk, ens: Dialect):
    """Two assigns (one address each), one unassign of both."""
    eni = ens["eni.available"]
    with restored(sdk) as world:
        before = sdk.describe(eni)
        assert before.ips[0] == (ens["eni.available.primary_ip"], True)

        first = sdk.assign(eni)
        second = sdk.assign(eni)
        assert first != second
        for ip in (first, second):
            assert in_cidr(ip, ens["vswitch.cidr"]), ip
            assert ip not in held_anywhere(world), ip
        after = sdk.describe(eni)
        assert after.ips == before.ips + ((first, False), (second, False))

        sdk.unassign(eni, [first, second])
        assert sdk.describe(eni) == before


def ens_cycle_second_vswitch(sdk, ens: Dialect):
    """VSwitchId = vswitch.second: the address comes from that vSwitch."""
    eni = ens["eni.available"]
    with restored(sdk):
        before = sdk.describe(eni)
        ip = sdk.assign(eni, vswitch=ens["vswitch.second"])
        assert in_cidr(ip, ens["vswitch.second.cidr"]), ip
        after = sdk.describe(eni)
        assert after.ips == before.ips + ((ip, False),)
        assert after.vswitch_id == before.vswitch_id == ens["vswitch"]

        sdk.unassign(eni, [ip])
        assert sdk.describe(eni) == before


def ens_unknown_eni(sdk, ens: Dialect, which: str, op: str):
    eni = ens.unknown_eni if which == "unknown" else ens["eni.other_account"]
    call = {
        "assign": lambda: sdk.assign(eni),
        "unassign": lambda: sdk.unassign(eni, [ens["vswitch.free_ip"]]),
    }[op]
    with restored(sdk):
        refused(sdk, call, (400, "InvalidEniId.NotFound"), sdk.snapshot)


def ens_full(sdk, ens: Dialect):
    eni = ens["eni.full"]
    with restored(sdk) as world:
        assert len([ip for ip, primary in world[eni] if not primary]) == int(ens["eni.full.max_secondaries"])
        refused(sdk, lambda: sdk.assign(eni), (400, "MaxEniPrivateIpsCountExceeded"), sdk.snapshot)


def ens_ip_not_on_eni(sdk, ens: Dialect):
    """Unassigning an address another ENI holds: 400 InvalidPrivateIpAddress.NotFound."""
    with restored(sdk):
        call = lambda: sdk.unassign(ens["eni.available"], [ens["vswitch.taken_ip"]])
        refused(sdk, call, (400, "InvalidPrivateIpAddress.NotFound"), sdk.snapshot)


# --- Authentication, both dialects -----------------------------------------

# The operations an authentication test sends: requests that would succeed with
# the default key, so that only the key (or the clock) can refuse them.
AUTH_OPERATIONS = ("assign", "unassign")


def auth_call(bad, dialect: Dialect, op: str) -> Callable:
    eni, taken = dialect["eni.with_secondaries"], dialect["vswitch.taken_ip"]
    if op == "unassign":
        return lambda: bad.unassign(eni, [taken])
    if dialect.name == ECS:
        return lambda: bad.assign(dialect["eni.available"], ips=[dialect["vswitch.free_ip"]])
    assert dialect.name == ENS
    return lambda: bad.assign(dialect["eni.available"])


def auth_refused(bad, good, dialect: Dialect, op: str, expected: tuple, snapshot: Callable | None = None):
    """`bad` (wrong key, or a clock the emulator refuses) is refused; `good` restores and checks."""
    with restored(good):
        refused(bad, auth_call(bad, dialect, op), expected, snapshot or good.snapshot)


# --- Tencent legacy VPC API v2 --------------------------------------------------
#
# Assign and Unassign only start a task (data.taskId); DescribeNetworkInterfaces
# shows the change once DescribeVpcTaskResult says 0, and the ENI is busy
# (UnsupportedOperation.MutexOperationTaskRunning) until then. Every task a test
# starts is polled to its end before the test ends.

TC_BUSY = (5100, "UnsupportedOperation.MutexOperationTaskRunning")
TC_ENI_NOT_FOUND = (5000, "InvalidNetworkInterface.NotFound")


def tc_done(sdk, task: int):
    """Poll `task` to its end; it must have succeeded (status 0)."""
    status = sdk.wait(task)
    assert status == 0, f"task {task} ended with data.status {status}"


@contextmanager
def tc_restored(sdk):
    """`restored` for an API whose changes are tasks: before looking, wait for
    every task the driver started; put back what the block added, polling
    each unassign to its end."""
    before = sdk.snapshot()
    try:
        yield before
    finally:
        sdk.settle()
        for eni, added in added_since(before, sdk.snapshot()):
            tc_done(sdk, sdk.unassign(eni, added))
        assert sdk.snapshot() == before, "the test left the world changed"


def tc_refused(sdk, call: Callable, expected: tuple, snapshot: Callable) -> TcRefusal:
    """`call` returns a reply that must be the error `expected` (code, codeDesc), changing nothing."""
    before = snapshot()
    refusal = sdk.error(call())
    assert (refusal.code, refusal.code_desc) == expected, refusal
    assert refusal.message, refusal
    assert snapshot() == before, "a refused call changed the world"
    return refusal


def tc_cycle_explicit(sdk, tc: Dialect):
    """Two named addresses: not listed while the task runs, listed after it; then gone."""
    eni = tc["eni.available"]
    ips = [tc["subnet.free_ip"], tc["subnet.free_ip_2"]]
    with tc_restored(sdk) as world:
        assert not set(ips) & held_anywhere(world)
        before = sdk.describe(eni)
        assert before.ips[0] == (tc["eni.available.primary_ip"], True)

        task = sdk.assign(eni, ips=ips)
        # Right after the call the task runs (2 s on the emulator) and the
        # listing has not changed.
        assert sdk.status(task) == 2
        assert sdk.describe(eni) == before
        tc_done(sdk, task)
        after = sdk.describe(eni)
        assert after.ips == before.ips + tuple((ip, False) for ip in ips)

        task = sdk.unassign(eni, ips)
        assert sdk.describe(eni) == after
        tc_done(sdk, task)
        assert sdk.describe(eni) == before


def tc_cycle_count(sdk, tc: Dialect):
    """secondaryPrivateIpAddressCount = 2: two free addresses of the ENI's subnet."""
    eni = tc["eni.available"]
    with tc_restored(sdk) as world:
        before = sdk.describe(eni)
        tc_done(sdk, sdk.assign(eni, count=2))
        after = sdk.describe(eni)
        assert after.ips[: len(before.ips)] == before.ips, after
        added = after.ips[len(before.ips) :]
        ips = [ip for ip, _ in added]
        assert len(ips) == 2 and len(set(ips)) == 2, added
        for ip, primary in added:
            assert primary is False, added
            assert in_cidr(ip, tc["subnet.cidr"]), ip
            assert ip not in held_anywhere(world), ip

        tc_done(sdk, sdk.unassign(eni, ips))
        assert sdk.describe(eni) == before


def tc_busy(sdk, tc: Dialect):
    """While a task of the ENI runs, every other change of it is refused and changes nothing."""
    eni = tc["eni.available"]
    first, second = tc["subnet.free_ip"], tc["subnet.free_ip_2"]
    with tc_restored(sdk):
        before = sdk.describe(eni)

        task = sdk.assign(eni, ips=[first])
        tc_refused(sdk, lambda: sdk.assign_reply(eni, ips=[second]), TC_BUSY, sdk.snapshot)
        tc_refused(sdk, lambda: sdk.assign_reply(eni, count=1), TC_BUSY, sdk.snapshot)
        tc_done(sdk, task)
        after = sdk.describe(eni)
        assert after.ips == before.ips + ((first, False),)

        task = sdk.unassign(eni, [first])
        tc_refused(sdk, lambda: sdk.unassign_reply(eni, [first]), TC_BUSY, sdk.snapshot)
        tc_refused(sdk, lambda: sdk.assign_reply(eni, ips=[second]), TC_BUSY, sdk.snapshot)
        tc_done(sdk, task)
        assert sdk.describe(eni) == before


def tc_eni_not_found(sdk, tc: Dialect, which: str, op: str):
    eni = tc.unknown_eni if which == "unknown" else tc["eni.other_account"]
    call = {
        "assign": lambda: sdk.assign_reply(eni, ips=[tc["subnet.free_ip"]]),
        "unassign": lambda: sdk.unassign_reply(eni, [tc["subnet.free_ip"]]),
    }[op]
    with tc_restored(sdk):
        tc_refused(sdk, call, TC_ENI_NOT_FOUND, sdk.snapshot)


def tc_auth_call(bad, tc: Dialect, op: str) -> Callable:
    """A request that the default key would have started as a task."""
    assert tc.name == TENCENT
    if op == "unassign":
        return lambda: bad.unassign_reply(tc["eni.with_secondaries"], [tc["subnet.taken_ip_2"]])
    return lambda: bad.assign_reply(tc["eni.available"], ips=[tc["subnet.free_ip"]])


def tc_auth_refused(bad, good, tc: Dialect, op: str, expected: tuple, snapshot: Callable | None = None):
    """`bad` (wrong key, or a clock the emulator refuses) is refused; `good` restores and checks."""
    with tc_restored(good):
        tc_refused(bad, tc_auth_call(bad, tc, op), expected, snapshot or good.snapshot)


# --- NAVER Cloud VPC (naver-vpc) ---------------------------------------------------
#
# A change is visible at once, in the reply and in every read, and puts the
# interface in SET for the subnet's change_delay (3 s in the default world);
# meanwhile every change of it is refused with 1002102. Steady statuses: USED
# (attached) and NOTUSED. Every test waits for each interface it changed to
# leave SET before it ends, and every refusal changes nothing.

NV_STEADY = ("USED", "NOTUSED")
NV_NOT_FOUND = (400, "responseError", "1002101")
NV_BUSY = (400, "responseError", "1002102")
NV_IN_USE = (400, "responseError", "1002103")
NV_LIMIT = (400, "responseError", "1002104")
NV_PRIMARY = (400, "responseError", "1002107")
NV_BAD_PARAMETER = (400, "responseError", "1100000")
NV_AUTH_FAILED = (401, "error", "200")  # the API gateway's "Authentication Failed"


def nv_nic(raw: dict) -> Nic:
    """A Nic from one item of a JSON networkInterfaceList."""
    return Nic(
        raw["networkInterfaceNo"],
        raw["subnetNo"],
        raw["networkInterfaceStatus"]["code"],
        raw["ip"],
        tuple(raw["secondaryIpList"]),
    )


def nv_held(snapshot: dict) -> set:
    """Every address some interface holds, primary or secondary."""
    return {ip for nic in snapshot.values() for ip in (nic.ip, *nic.secondaries)}


def nv_holders(snapshot: dict, ip: str) -> list:
    return sorted(eni for eni, nic in snapshot.items() if ip in nic.secondaries)


def nv_usable(ip: str, cidr: str) -> bool:
    """In the subnet and none of its reserved addresses (the 0th to 5th, the last)."""
    net = ipaddress.ip_network(cidr)
    offset = int(ipaddress.ip_address(ip)) - int(net.network_address)
    return 6 <= offset < net.num_addresses - 1


@contextmanager
def nv_restored(sdk):
    """`restored` for NAVER: start from a world where no interface is in SET;
    afterwards wait out every SET, release what was added, give back what was
    taken (in its order), and check that every interface reads as before."""
    before = sdk.settle()
    try:
        yield before
    finally:
        now = sdk.settle()
        if now != before:
            give_back = {}
            for eni, nic in now.items():
                want = before[eni].secondaries
                if nic.secondaries == want:
                    continue
                if nic.secondaries[: len(want)] == want:
                    sdk.unassign(eni, list(nic.secondaries[len(want) :]))
                elif want[: len(nic.secondaries)] == nic.secondaries:
                    give_back[eni] = list(want[len(nic.secondaries) :])
                else:
                    if nic.secondaries:
                        sdk.unassign(eni, list(nic.secondaries))
                    give_back[eni] = list(want)
            sdk.settle()
            for eni, ips in give_back.items():
                sdk.assign(eni, ips=ips, reassign=True)
            now = sdk.settle()
        assert now == before, "the test left the world changed"


def nv_refused(sdk, call: Callable, expected: tuple, snapshot: Callable) -> NvRefusal:
    """`call` must raise the SDK's error with `expected` (HTTP status, shape, code), changing nothing."""
    before = snapshot()
    refusal = sdk.error(call)
    assert (refusal.status, refusal.shape, refusal.code) == expected, refusal
    assert refusal.message, refusal
    assert snapshot() == before, "a refused call changed the world"
    return refusal


def nv_cycle(sdk, nv: Dialect):
    """secondaryIpList.1, then secondaryIpCount=2, then one unassign of all three;
    each change shows at once in SET, then the interface is steady again."""
    eni = nv["eni.available"]
    ip = nv["subnet.free_ip"]
    with nv_restored(sdk) as world:
        before = world[eni]
        assert (before.ip, before.status, before.secondaries) == (nv["eni.available.ip"], "NOTUSED", ())
        assert ip not in nv_held(world)
        assert sdk.describe(eni) == before

        reply = sdk.assign(eni, ips=[ip])
        assert reply == before._replace(status="SET", secondaries=(ip,))
        assert sdk.describe(eni) == reply
        assert sdk.wait(eni) == before._replace(secondaries=(ip,))

        reply = sdk.assign(eni, count=2)
        assert reply.status == "SET" and reply.secondaries[:1] == (ip,), reply
        counted = reply.secondaries[1:]
        assert len(counted) == 2 and len(set(counted)) == 2, reply
        for c in counted:
            assert nv_usable(c, nv["subnet.cidr"]), c
            assert c != ip and c not in nv_held(world), c
        assert sdk.describe(eni) == reply
        assert sdk.wait(eni) == before._replace(secondaries=(ip, *counted))

        reply = sdk.unassign(eni, [ip, *counted])
        assert reply == before._replace(status="SET")
        assert sdk.wait(eni) == before
        assert not {ip, *counted} & nv_held(sdk.snapshot())


def nv_reassign(sdk, nv: Dialect):
    """allowReassign=true moves an address another interface holds as a
    secondary; without it (absent or false) the request is refused, and a
    primary address is never moved."""
    source, target = nv["eni.with_secondaries"], nv["eni.available_2"]
    kept, moved = nv["subnet.taken_ip"], nv["subnet.taken_ip_2"]
    with nv_restored(sdk) as world:
        assert world[source].secondaries == (kept, moved)
        assert world[target].secondaries == ()

        nv_refused(sdk, lambda: sdk.assign(target, ips=[moved]), NV_IN_USE, sdk.snapshot)
        nv_refused(sdk, lambda: sdk.assign(target, ips=[moved], reassign=False), NV_IN_USE, sdk.snapshot)
        primary = nv["eni.inuse.ip"]
        nv_refused(sdk, lambda: sdk.assign(target, ips=[primary], reassign=True), NV_IN_USE, sdk.snapshot)

        reply = sdk.assign(target, ips=[moved], reassign=True)
        assert reply == world[target]._replace(status="SET", secondaries=(moved,))
        # The source loses it at once and keeps its status (it is not SET).
        now = sdk.snapshot()
        assert now[source] == world[source]._replace(secondaries=(kept,))
        assert nv_holders(now, moved) == [target] and nv_holders(now, kept) == [source]
        assert sdk.wait(target) == world[target]._replace(secondaries=(moved,))

        # And back: the source gets it again after the one it kept, its first order.
        reply = sdk.assign(source, ips=[moved], reassign=True)
        assert reply == world[source]._replace(status="SET")
        now = sdk.snapshot()
        assert now[target] == world[target]
        assert nv_holders(now, moved) == [source]
        assert sdk.wait(source) == world[source]


def nv_busy(sdk, nv: Dialect):
    """While the interface is SET every change of it is refused with 1002102 and
    changes nothing; the refused unassign succeeds once it is steady."""
    eni = nv["eni.inuse"]
    first, second = nv["subnet.free_ip"], nv["subnet.free_ip_2"]
    with nv_restored(sdk) as world:
        before = world[eni]
        assert before.status == "USED", before

        during = sdk.assign(eni, ips=[first])
        assert during == before._replace(status="SET", secondaries=(first,))
        for call in (
            lambda: sdk.assign(eni, ips=[second]),
            lambda: sdk.assign(eni, count=1),
            lambda: sdk.assign(eni, ips=[second], count=1),
            lambda: sdk.unassign(eni, [first]),
        ):
            nv_refused(sdk, call, NV_BUSY, sdk.snapshot)
        assert sdk.wait(eni) == before._replace(secondaries=(first,))

        assert sdk.unassign(eni, [first]) == before._replace(status="SET")
        assert sdk.wait(eni) == before


# (interface, explicit addresses, count) asking for more than 5 secondaries;
# "list_6" and "count_6" break the parameters' own bounds (validation, 1100000).
NV_OVER_LIMIT = {
    "full_explicit": ("eni.full", ["subnet.free_ip"], None, NV_LIMIT),
    "full_count": ("eni.full", [], 1, NV_LIMIT),
    "two_plus_four": ("eni.with_secondaries", ["subnet.free_ip", "subnet.free_ip_2", "subnet.free_ip_3"], 1, NV_LIMIT),
    "three_plus_three": ("eni.available", ["subnet.free_ip", "subnet.free_ip_2", "subnet.free_ip_3"], 3, NV_LIMIT),
    "count_6": ("eni.available", [], 6, NV_BAD_PARAMETER),
    "list_6": ("eni.available", 6, None, NV_BAD_PARAMETER),
}


def nv_over_limit(sdk, nv: Dialect, case: str):
    """More than 5 secondaries on one interface: refused whole, nothing assigned."""
    eni_key, ips, count, expected = NV_OVER_LIMIT[case]
    eni = nv[eni_key]
    with nv_restored(sdk) as world:
        if isinstance(ips, int):
            # Free usable addresses of the subnet, as many as asked.
            net = ipaddress.ip_network(nv["subnet.cidr"])
            free = [str(a) for a in net.hosts() if nv_usable(str(a), str(net)) and str(a) not in nv_held(world)]
            ips = free[:ips]
        else:
            ips = [nv[k] for k in ips]
        assert not set(ips) & nv_held(world)
        assert len(world[eni].secondaries) + len(ips) + (count or 0) > 5
        refusal = nv_refused(sdk, lambda: sdk.assign(eni, ips=ips or None, count=count), expected, sdk.snapshot)
        if expected == NV_BAD_PARAMETER:
            # The message names the parameter as it was sent.
            name = "secondaryIpCount" if count else f"secondaryIpList.{len(ips)}"
            assert name in refusal.message, refusal
        assert not set(ips) & nv_held(sdk.snapshot())


def nv_noop(sdk, nv: Dialect):
    """Requests that change nothing succeed, return the interface as it is and
    do not put it in SET: unassigning an address the interface does not hold
    as a secondary (a free one, twice in a row, another interface's secondary,
    another interface's primary), and assigning one it already holds."""
    eni = nv["eni.available"]
    with nv_restored(sdk) as world:
        before = world[eni]
        for ips in (
            [nv["subnet.free_ip"]],
            [nv["subnet.free_ip"]],
            [nv["subnet.taken_ip"]],
            [nv["eni.with_secondaries.ip"]],
            [nv["subnet.free_ip_2"], nv["subnet.taken_ip_2"]],
        ):
            assert sdk.unassign(eni, ips) == before, ips
            assert sdk.snapshot() == world, ips
        holder = nv["eni.with_secondaries"]
        for count in (None, 0):
            assert sdk.assign(holder, ips=[nv["subnet.taken_ip"]], count=count) == world[holder], count
            assert sdk.snapshot() == world, count


# (interface, explicit address or None, count, expected): addresses the
# interface may not have, and a subnet with no free address left.
NV_IP_REFUSED = {
    "outside_subnet": ("eni.available", "subnet.outside_ip", None, (400, "responseError", "1002105")),
    "reserved": ("eni.available", "subnet.reserved_ip", None, (400, "responseError", "1002105")),
    "own_primary": ("eni.available", "eni.available.ip", None, NV_IN_USE),
    "exhausted": ("eni.exhausted", None, 1, (400, "responseError", "1002106")),
}


def nv_ip_refused(sdk, nv: Dialect, case: str):
    eni_key, ip_key, count, expected = NV_IP_REFUSED[case]
    ips = [nv[ip_key]] if ip_key else None
    with nv_restored(sdk):
        for reassign in (None, True):
            call = lambda: sdk.assign(nv[eni_key], ips=ips, count=count, reassign=reassign)  # noqa: E731
            nv_refused(sdk, call, expected, sdk.snapshot)


def nv_primary(sdk, nv: Dialect):
    """The interface's own primary cannot be unassigned (1002107), and a request
    that names it releases nothing else either."""
    eni = nv["eni.with_secondaries"]
    primary = nv["eni.with_secondaries.ip"]
    with nv_restored(sdk):
        nv_refused(sdk, lambda: sdk.unassign(eni, [primary]), NV_PRIMARY, sdk.snapshot)
        nv_refused(sdk, lambda: sdk.unassign(eni, [nv["subnet.taken_ip"], primary]), NV_PRIMARY, sdk.snapshot)


def nv_not_found(sdk, nv: Dialect, which: str, op: str):
    """An interface that does not exist or is another account's: 1002101 for a
    change; an empty list (no error) for getNetworkInterfaceDetail."""
    eni = nv.unknown_eni if which == "unknown" else nv["eni.other_account"]
    with nv_restored(sdk):
        if op == "describe":
            assert sdk.detail(eni) == []
            return
        call = {
            "assign": lambda: sdk.assign(eni, ips=[nv["subnet.free_ip"]]),
            "unassign": lambda: sdk.unassign(eni, [nv["subnet.free_ip"]]),
        }[op]
        nv_refused(sdk, call, NV_NOT_FOUND, sdk.snapshot)


# A change the default key would make, and a read.
NV_AUTH_OPERATIONS = ("assign", "unassign", "describe")


def nv_auth_call(bad, nv: Dialect, op: str) -> Callable:
    assert nv.name == NAVER
    return {
        "assign": lambda: bad.assign(nv["eni.available"], ips=[nv["subnet.free_ip"]]),
        "unassign": lambda: bad.unassign(nv["eni.with_secondaries"], [nv["subnet.taken_ip_2"]]),
        "describe": lambda: bad.describe(nv["eni.with_secondaries"]),
    }[op]


def nv_auth_refused(bad, good, nv: Dialect, op: str, snapshot: Callable | None = None) -> NvRefusal:
    """`bad` (a wrong key, or a clock the emulator refuses) gets the gateway's
    401 errorCode 200; `good` restores and checks."""
    with nv_restored(good):
        refusal = nv_refused(bad, nv_auth_call(bad, nv, op), NV_AUTH_FAILED, snapshot or good.snapshot)
        assert refusal.message.startswith("Authentication Failed"), refusal
        return refusal

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
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import NamedTuple

from support import ECS, ENS, TENCENT, Dialect, in_cidr


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


def secondaries(eni: Eni) -> list:
    return [ip for ip, primary in eni.ips if not primary]


def held_anywhere(snapshot: dict) -> set:
    return {ip for ips in snapshot.values() for ip, _ in ips}


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
        after = sdk.snapshot()
        for eni, ips in after.items():
            added = [ip for ip, primary in ips if not primary and (ip, primary) not in before.get(eni, ())]
            if added:
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
        after = sdk.snapshot()
        for eni, ips in after.items():
            added = [ip for ip, primary in ips if not primary and (ip, primary) not in before.get(eni, ())]
            if added:
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

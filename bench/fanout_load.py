"""Client side of ``ws_fanout``: sockets, senders, drain and the figures of one round.

Why a module of its own: the same client code drives all three systems under test (the full
Exchange path, the bare Channels consumer and the plain ``websockets`` server), so the only
difference between their figures is the server. The three speak the same frames for what
is measured: a sender sends ``message.send`` with a 200-byte body; a subscriber sees that
body come back, inside ``message.new`` (full) or as the relayed frame itself (bare, plain).

Each body starts with a marker ``bx:<round tag>:<message no>:<send time ns>:`` so a
subscriber can match a delivery and compute its latency with one regex search, without
parsing the JSON of every frame (the client would otherwise be the bottleneck).
All clocks are ``CLOCK_MONOTONIC`` of this one process.

"Acked" means: ``message.ack`` for the full path (sent after the commit); for bare and plain,
which have no ack, the sender's own copy of the broadcast (senders are in the group too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Kind = Literal["full", "bare", "plain"]
Mode = Literal["light", "saturate"]

MARKER_RE = re.compile(r"bx:([a-z0-9]+):(\d+):(\d+):")
FILLER = "Seized server logs point to a relay in another jurisdiction; please advise. "
MAX_FRAME = 8 * 2**20
LIGHT_MAX_IN_FLIGHT = 500


@dataclass
class Target:
    """One system under test: where it listens, how to authenticate, what to measure."""

    kind: Kind
    ports: tuple[int, ...]
    pids: tuple[int, ...]
    sub_tokens: tuple[str, ...] = ()
    send_tokens: tuple[str, ...] = ()
    channel: str = "cybercrime"
    last_id: Any = None  # full path: subscribe with ``after`` so backlogs stay small

    def url(self, index: int, room: str) -> str:
        port = self.ports[index % len(self.ports)]
        if self.kind == "full":
            return f"ws://127.0.0.1:{port}/ws/v1/"
        if self.kind == "bare":
            return f"ws://127.0.0.1:{port}/ws/{room}/"
        return f"ws://127.0.0.1:{port}/{room}"

    def headers(self, index: int, sender: bool) -> dict[str, str]:
        tokens = self.send_tokens if sender else self.sub_tokens
        if self.kind != "full":
            return {}
        return {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}

    def subscribe_frame(self) -> str | None:
        if self.kind != "full":
            return None
        frame: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
        if self.last_id is not None:
            frame["after"] = self.last_id
        return json.dumps(frame)


@dataclass(frozen=True)
class RoundSpec:
    """What one round does; every loop in it is bounded by these numbers."""

    subscribers: int
    senders: int
    mode: Mode
    duration: float
    rate: float
    window: int
    drain_timeout: float
    ack_timeout: float
    connect_timeout: float
    body_size: int = 200
    connect_concurrency: int = 20
    max_messages: int = 50_000


@dataclass
class RoundResult:
    """The figures of one round; ``ws_fanout`` prints and serialises these."""

    kind: str
    subscribers: int
    senders: int
    mode: str
    sent: int = 0
    acked: int = 0
    unacked: int = 0
    refused: int = 0
    send_window_s: float = 0.0
    msgs_per_s: float = 0.0
    deliveries: int = 0
    deliveries_per_s: float = 0.0
    expected_deliveries: int = 0
    lost: int = 0
    lost_messages: int = 0
    lost_by_all: int = 0
    overtaken: int = 0
    lost_overtaken: int = 0
    subs_with_loss: int = 0
    max_missing_per_sub: int = 0
    unexpected: int = 0
    duplicates: int = 0
    stray: int = 0
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    deliv_p50_ms: float | None = None
    deliv_p99_ms: float | None = None
    deliv_max_ms: float | None = None
    connect_p50_ms: float | None = None
    connect_p99_ms: float | None = None
    connect_failures: int = 0
    closed_early: int = 0
    drain_s: float = 0.0
    server_cpu_pct: float | None = None
    client_cpu_pct: float | None = None
    other_cpu_pct: float | None = None
    # Server CPU per acked message / per delivery while sending: unlike rates and latencies
    # these barely move when other processes compete for the cores.
    server_cpu_ms_per_msg: float | None = None
    server_cpu_us_per_delivery: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class RoundState:
    """What all sockets of one round share: message numbers, send and ack times, errors."""

    def __init__(self, target: Target, spec: RoundSpec) -> None:
        self.target = target
        self.spec = spec
        self.tag = secrets.token_hex(4)
        self.room = f"r{self.tag}"
        self.next_no = 0
        self.send_ns: dict[int, int] = {}
        self.ack_ns: dict[int, int] = {}
        self.server_ids: dict[int, int] = {}  # full path: message no -> server message id
        self.first_delivery: dict[int, int] = {}  # message no -> first arrival anywhere
        self.refused: set[int] = set()
        self.window_end_ns = 2**62
        self.errors: Counter[str] = Counter()
        self.padding = FILLER * (spec.body_size // len(FILLER) + 2)

    def new_frame(self) -> tuple[int, str, str, int]:
        """Return (message no, client_id, frame text, send time) for the next message."""
        no = self.next_no
        self.next_no += 1
        cid = str(uuid.uuid4())
        sent = time.monotonic_ns()
        marker = f"bx:{self.tag}:{no}:{sent}:"
        body = (marker + self.padding)[: self.spec.body_size]
        frame = {
            "type": "message.send",
            "channel": self.target.channel,
            "client_id": cid,
            "body": body,
        }
        return no, cid, json.dumps(frame), sent

    def ack(self, no: int, now: int) -> None:
        self.ack_ns.setdefault(no, now)


class Peer:
    """One client socket. Subscribers count deliveries; senders also match their acks."""

    def __init__(self, state: RoundState, index: int, sender: bool) -> None:
        self.state = state
        self.index = index
        self.sender = sender
        self.full = state.target.kind == "full"
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.subscribe_error: str | None = None
        self.closing = False
        self.closed_early = False
        self.received: set[int] = set()
        self.latencies = array("q")
        self.in_window = 0
        self.duplicates = 0
        self.stray = 0
        self.pending: dict[int, asyncio.Future[None]] = {}
        self.own: set[int] = set()
        self.cid_to_no: dict[str, int] = {}

    # -- connection -------------------------------------------------------------------------

    async def open(self, timeout: float) -> float:
        """Connect, subscribe and wait for ``subscribed``; return the seconds it took."""
        target = self.state.target
        started = time.monotonic()
        self.ws = await connect(
            target.url(self.index, self.state.room),
            additional_headers=target.headers(self.index, self.sender),
            compression=None,
            max_size=MAX_FRAME,
            max_queue=256,
            ping_interval=None,
            open_timeout=timeout,
            close_timeout=2,
            proxy=None,
        )
        self.task = asyncio.create_task(self._read())
        frame = target.subscribe_frame()
        if frame is not None:
            await self.ws.send(frame)
        await asyncio.wait_for(self.subscribed.wait(), timeout)
        if self.subscribe_error is not None:
            raise RuntimeError(f"subscribe refused: {self.subscribe_error}")
        if self.closed_early:
            raise RuntimeError("server closed the socket while subscribing")
        return time.monotonic() - started

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):  # a socket already gone is fine here
                await self.ws.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                if isinstance(text, str):
                    self.on_frame(text)
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.closed_early = True
            self.subscribed.set()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_result(None)

    # -- frames -----------------------------------------------------------------------------

    def on_frame(self, text: str) -> None:
        """Hot path: one substring test and one regex search per delivery."""
        now = time.monotonic_ns()
        if self.sender:
            self._on_sender_frame(text, now)
            return
        if '"message.new"' in text or '"message.send"' in text:
            match = MARKER_RE.search(text)
            if match is not None:
                if match.group(1) != self.state.tag:
                    self.stray += 1
                    return
                no = int(match.group(2))
                if no in self.received:
                    self.duplicates += 1
                    return
                self.received.add(no)
                self.state.first_delivery.setdefault(no, now)
                self.latencies.append(now - int(match.group(3)))
                if now <= self.state.window_end_ns:
                    self.in_window += 1
                return
        self._on_control(text)

    def _on_sender_frame(self, text: str, now: int) -> None:
        if self.full:
            if '"message.ack"' in text:
                obj = json.loads(text)
                no = self.cid_to_no.get(obj.get("client_id", ""))
                if no is not None:
                    self._acked(no, now)
                    message = obj.get("message") or {}
                    if isinstance(message.get("id"), int):
                        self.state.server_ids[no] = message["id"]
                    self._note_id(message)
                return
            if '"message.new"' in text:
                return  # the sender's own subscription; deliveries are counted at subscribers
        elif '"message.send"' in text:
            match = MARKER_RE.search(text)
            if match is not None and match.group(1) == self.state.tag:
                no = int(match.group(2))
                if no in self.own:
                    self._acked(no, now)
                return
        self._on_control(text)

    def _acked(self, no: int, now: int) -> None:
        self.state.ack(no, now)
        fut = self.pending.pop(no, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _note_id(self, message: dict[str, Any]) -> None:
        new_id = message.get("id")
        last = self.state.target.last_id
        if isinstance(new_id, int) and isinstance(last, int):
            self.state.target.last_id = max(new_id, last)
        elif new_id is not None:
            self.state.target.last_id = new_id

    def _on_control(self, text: str) -> None:
        try:
            obj = json.loads(text)
        except ValueError:
            self.state.errors["client:bad-json"] += 1
            return
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "subscribed":
            self.subscribed.set()
        elif kind == "error":
            code = str(obj.get("code", "?"))
            self.state.errors[code] += 1
            if not self.subscribed.is_set():
                self.subscribe_error = f"{code}: {obj.get('message', '')}"
                self.subscribed.set()
            elif self.sender:
                self._refused(obj)
        elif kind not in ("pong", "message.updated", "message.deleted"):
            self.state.errors[f"unexpected:{kind}"] += 1

    def _refused(self, obj: dict[str, Any]) -> None:
        """Free the window slot of a refused send: by ``ref`` if given, else the oldest."""
        ref = obj.get("ref") or obj.get("client_id")
        no = self.cid_to_no.get(ref) if isinstance(ref, str) else None
        if no is None and self.pending:
            no = next(iter(self.pending))
        if no is not None:
            self.state.refused.add(no)
            fut = self.pending.pop(no, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    # -- sending ----------------------------------------------------------------------------

    async def send_one(self) -> asyncio.Future[None] | None:
        """Send the next message; return a future resolved by its ack (None if closed)."""
        if self.ws is None or self.closed_early:
            return None
        no, cid, text, sent = self.state.new_frame()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[no] = fut
        self.own.add(no)
        self.cid_to_no[cid] = no
        self.state.send_ns[no] = sent
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            self.pending.pop(no, None)
            return None
        return fut

    async def run_light(self, start: float, interval: float, offset: float, end: float) -> None:
        """Open loop: one message every ``interval`` seconds, whatever the acks do."""
        loop = asyncio.get_running_loop()
        cap = self.state.spec.max_messages
        i = 0
        while not self.closed_early and self.state.next_no < cap:
            due = start + offset + i * interval
            if due >= end:
                break
            i += 1
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(self.pending) >= LIGHT_MAX_IN_FLIGHT:
                self.state.errors["client:skipped-in-flight-cap"] += 1
                continue
            await self.send_one()

    async def run_saturate(self, end: float) -> None:
        """Closed loop: send, wait for the ack (bounded), send again - until ``end``."""
        loop = asyncio.get_running_loop()
        spec = self.state.spec
        while loop.time() < end and self.state.next_no < spec.max_messages:
            fut = await self.send_one()
            if fut is None:
                return
            try:
                await asyncio.wait_for(asyncio.shield(fut), spec.ack_timeout)
            except TimeoutError:
                self.state.errors["client:ack-timeout"] += 1
                for no, pending in list(self.pending.items()):
                    if pending is fut:
                        del self.pending[no]


def _percentile(sorted_values: list[int] | array[int], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index] / 1e6


def _cpu_seconds(pids: tuple[int, ...]) -> float:
    """Sum utime+stime of the server processes (threads included) from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _client_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def _open_all(
    peers: list[Peer], spec: RoundSpec, result: RoundResult
) -> tuple[list[Peer], list[float]]:
    """Connect every peer, a bounded number at a time; return those that made it."""
    gate = asyncio.Semaphore(spec.connect_concurrency)

    async def one(peer: Peer) -> float | None:
        async with gate:
            try:
                return await peer.open(spec.connect_timeout)
            except Exception as exc:
                result.connect_failures += 1
                if len(result.notes) < 5:
                    result.notes.append(f"connect failed: {type(exc).__name__}: {exc}")
                await peer.close()
                return None

    took = await asyncio.gather(*(one(p) for p in peers))
    ok = [p for p, t in zip(peers, took, strict=True) if t is not None]
    return ok, [t for t in took if t is not None]


async def run_round(target: Target, spec: RoundSpec) -> RoundResult:
    """Connect, send for ``spec.duration``, drain, close; every wait is bounded."""
    state = RoundState(target, spec)
    result = RoundResult(target.kind, spec.subscribers, spec.senders, spec.mode)
    subs = [Peer(state, i, sender=False) for i in range(spec.subscribers)]
    senders = [Peer(state, i, sender=True) for i in range(spec.senders)]
    try:
        subs_ok, sub_times = await _open_all(subs, spec, result)
        senders_ok, _ = await _open_all(senders, spec, result)
        if sub_times:
            ordered = sorted(sub_times)
            result.connect_p50_ms = ordered[len(ordered) // 2] * 1000
            result.connect_p99_ms = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
        if not subs_ok or not senders_ok:
            result.notes.append("no subscriber or no sender connected; round skipped")
            return result
        await _send_and_drain(state, subs_ok, senders_ok, result)
        _tally(state, subs_ok, result)
    finally:
        await asyncio.wait_for(
            asyncio.gather(*(p.close() for p in subs + senders), return_exceptions=True),
            timeout=15,
        )
    return result


async def _send_and_drain(
    state: RoundState, subs: list[Peer], senders: list[Peer], result: RoundResult
) -> None:
    spec = state.spec
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    end = start + spec.duration
    state.window_end_ns = int(end * 1e9)  # loop.time() is CLOCK_MONOTONIC, as monotonic_ns
    cpu_server, cpu_client = _cpu_seconds(state.target.pids), _client_cpu_seconds()
    cpu_busy = _busy_seconds()
    if spec.mode == "light":
        interval = len(senders) / spec.rate
        jobs = [
            s.run_light(start, interval, i * interval / len(senders), end)
            for i, s in enumerate(senders)
        ]
    else:
        await asyncio.sleep(max(0.0, start - loop.time()))
        jobs = [s.run_saturate(end) for s in senders for _ in range(spec.window)]
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        _, late = await asyncio.wait(tasks, timeout=spec.duration + spec.ack_timeout + 5)
        if late:
            result.notes.append(f"{len(late)} sender loop(s) did not stop in time; cancelled")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    wall = max(loop.time() - start, 1e-9)
    result.server_cpu_pct = 100 * (_cpu_seconds(state.target.pids) - cpu_server) / wall
    result.client_cpu_pct = 100 * (_client_cpu_seconds() - cpu_client) / wall
    busy_pct = 100 * (_busy_seconds() - cpu_busy) / wall
    # What other processes (other tests, Redis, PostgreSQL) took meanwhile: noise or not.
    result.other_cpu_pct = max(0.0, busy_pct - result.server_cpu_pct - result.client_cpu_pct)
    result.send_window_s = spec.duration

    drained_at = loop.time()
    drain_end = drained_at + spec.drain_timeout
    while loop.time() < drain_end:
        acked = len(state.ack_ns)
        waiting = any(s.pending for s in senders if not s.closed_early)
        if not waiting and all(len(p.received) >= acked for p in subs if not p.closed_early):
            break
        await asyncio.sleep(0.05)
    result.drain_s = loop.time() - drained_at


def _tally(state: RoundState, subs: list[Peer], result: RoundResult) -> None:
    acked = set(state.ack_ns)
    result.sent = state.next_no
    result.acked = len(acked)
    result.refused = len(state.refused - acked)
    result.unacked = result.sent - result.acked - result.refused
    in_window = sum(1 for t in state.ack_ns.values() if t <= state.window_end_ns)
    result.msgs_per_s = in_window / result.send_window_s
    result.expected_deliveries = len(acked) * len(subs)
    latencies: list[int] = []
    missed_by: Counter[int] = Counter()
    for peer in subs:
        got = peer.received & acked
        missing = len(acked) - len(got)
        if missing:
            missed_by.update(acked - got)
        result.deliveries += len(got)
        result.lost += missing
        if missing:
            result.subs_with_loss += 1
            result.max_missing_per_sub = max(result.max_missing_per_sub, missing)
        result.unexpected += len(peer.received) - len(got)
        result.duplicates += peer.duplicates
        result.stray += peer.stray
        result.closed_early += peer.closed_early
        latencies.extend(peer.latencies)
    result.deliveries_per_s = sum(p.in_window for p in subs) / result.send_window_s
    if result.server_cpu_pct is not None:
        cpu_s = result.server_cpu_pct / 100 * result.send_window_s
        if in_window:
            result.server_cpu_ms_per_msg = 1000 * cpu_s / in_window
        if result.deliveries_per_s:
            result.server_cpu_us_per_delivery = (
                1e6 * cpu_s / (result.deliveries_per_s * result.send_window_s)
            )
    latencies.sort()
    result.deliv_p50_ms = _percentile(latencies, 0.50)
    result.deliv_p99_ms = _percentile(latencies, 0.99)
    result.deliv_max_ms = latencies[-1] / 1e6 if latencies else None
    acks = sorted(state.ack_ns[no] - state.send_ns[no] for no in acked)
    result.ack_p50_ms = _percentile(acks, 0.50)
    result.ack_p99_ms = _percentile(acks, 0.99)
    result.errors = dict(state.errors)
    result.lost_messages = len(missed_by)
    result.lost_by_all = sum(1 for n in missed_by.values() if n == len(subs))
    overtaken = _overtaken(state)
    result.overtaken = len(overtaken)
    result.lost_overtaken = len(overtaken & set(missed_by))
    result.notes.extend(_lost_evidence(state, missed_by, len(subs)))


def _lost_evidence(state: RoundState, missed_by: Counter[int], subs: int) -> list[str]:
    """For a few lost full-path messages: was the next id delivered before this one's ack?

    The ack leaves the server only after the broadcast was handed to the channel layer. If
    the message with the next higher id reached a subscriber before that ack reached the
    sender, the two broadcasts very likely crossed, and a server that drops broadcasts
    older than the newest it delivered would drop this one.
    """
    by_id = sorted((sid, no) for no, sid in state.server_ids.items())
    position = {no: i for i, (_, no) in enumerate(by_id)}
    notes: list[str] = []
    for no in sorted(missed_by, key=lambda n: state.server_ids.get(n, 0))[:3]:
        sid, i = state.server_ids.get(no), position.get(no)
        if sid is None or i is None or no not in state.ack_ns:
            continue
        later = [n for _, n in by_id[i + 1 :] if n in state.first_delivery][:1]
        text = f"lost message id {sid} (missed by {missed_by[no]}/{subs} subscribers)"
        if later:
            delta = (state.first_delivery[later[0]] - state.ack_ns[no]) / 1e6
            text += (
                f"; next delivered id {state.server_ids[later[0]]} first arrived "
                f"{abs(delta):.1f} ms {'before' if delta < 0 else 'after'} this one's ack"
            )
        notes.append(text)
    return notes


def _overtaken(state: RoundState) -> set[int]:
    """Messages acked after a message with a higher server id had been acked.

    Evidence for ordering problems: the ack is sent after the broadcast was handed to the
    layer, so an overtaken message was most likely broadcast after a newer one too. If the
    lost messages are exactly the overtaken ones, the server drops out-of-order broadcasts.
    """
    highest = -1
    out: set[int] = set()
    for no in sorted(state.server_ids, key=lambda n: state.ack_ns[n]):
        server_id = state.server_ids[no]
        if server_id < highest:
            out.add(no)
        highest = max(highest, server_id)
    return out

"""The soak's clients: pages that follow the replay rule exactly as the page does
(static/js/live/subscription.js, docs/protocol.md "The replay rule"), and count, per
``seq``, what reached them raw (live, in a replay) and what they applied.

The page keeps a cursor (the last ``seq`` applied): a live event at or below it is
old, one past ``cursor + 1`` is a gap (held, and a subscribe with ``since`` brings the
rest), an ack's events past the cursor are applied in order and then the cursor moves
to the ack's ``head``. So a page applies each event at most once, in order; what the
soak checks is that none is *missing* after the last resubscribe, whatever the faults.

Counts are kept in bytearrays indexed by ``seq`` (one byte per event per client), so
200 clients over an hour cost megabytes, not a set of ints each.
"""
from __future__ import annotations

import asyncio
import re
import time
from array import array
from collections import Counter
from typing import Any

import aiohttp
import socketio

from bench.common import basic_header
from bench.load import BUCKET_MS, _epoch

RETRY_AFTER = re.compile(r"try again in ([\d.]+) ?s")
SUBSCRIBE_TIMEOUT = 30.0
SLOW_SECONDS = 1.0  # live events slower than this are also counted per time slot
SLOT_SECONDS = 10


def retry_after(error: str | None) -> float | None:
    """Seconds to wait before asking again after a refusal that passes (as
    sync_rules.js's ``retryAfterMs``); 1 s after a timeout or a lost ack; None otherwise."""
    if error is None:
        return 1.0
    if not error.startswith(("rate limited", "database unavailable")):
        return None
    match = RETRY_AFTER.search(error)
    return (float(match.group(1)) if match else 1.0) + 0.25


def _bump(counts: bytearray, index: int) -> None:
    if index < 0:
        return
    if index >= len(counts):
        counts.extend(bytes(index - len(counts) + 4096))
    if counts[index] < 255:
        counts[index] += 1


class PageClient:
    """One page subscribed to room ``tasks`` with ``batch``, over one Socket.IO client."""

    def __init__(self, url: str, transport: str, json_module: Any, latency: Counter, slow: Counter,
                 source: str | None = None) -> None:
        self.url, self.transport, self.source = url, transport, source
        # From ``source`` (a loopback address): nginx's ip_hash spreads the pages over
        # both web processes. A factory: engine.io makes a new session per connection.
        http = (lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))) \
            if source else None
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=3,
                                        json=json_module, http_session=http)
        self.latency = latency  # shared by the group: 0.1 ms bucket -> count
        self.slow = slow  # shared: epoch second of a 10 s slot -> live events slower than 1 s
        self.cursor: int | None = None
        self.base: int | None = None  # the first ack's head: counts are kept for seqs above it
        self.held: list[dict[str, Any]] = []
        self.in_flight = False
        self.again = False
        self.generation = 0
        self.up = False  # the namespace is connected
        self.applied, self.live, self.replayed = bytearray(), bytearray(), bytearray()
        self.max_live = 0
        self.out_of_order = 0  # live arrivals below a higher live seq seen before (raw)
        self.applied_out_of_order = 0
        self.connects = self.subscribes = self.refusals = self.gaps = 0
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("task_update", self._on_update)
        self.sio.on("task_updates", self._on_batch)
        self.sio.on("seq_head", self._on_head)

    async def connect(self, attempts: int = 3) -> None:
        for attempt in range(attempts):  # a loaded machine may answer a first connect late
            try:
                await self.sio.connect(self.url, transports=[self.transport],
                                       headers={"Authorization": basic_header()}, wait_timeout=60)
                return
            except socketio.exceptions.ConnectionError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(2)

    # -- socket events ----------------------------------------------------------------

    async def _on_connect(self) -> None:
        # python-socketio sets ``connected`` only after this handler: keep our own flag.
        self.up = True
        self.connects += 1
        self.subscribe()

    async def _on_disconnect(self, *_reason: Any) -> None:
        self.up = False
        self.generation += 1  # a pending ack will never be applied
        self.in_flight = self.again = False

    async def _on_update(self, event: dict[str, Any]) -> None:
        self.receive([event], time.time())

    async def _on_batch(self, batch: dict[str, Any]) -> None:
        self.receive([e for e in batch.get("events", []) if isinstance(e.get("seq"), int)], time.time())

    async def _on_head(self, notice: dict[str, Any]) -> None:
        head = notice.get("head")
        if notice.get("task_id") is None and isinstance(head, int) and not self.in_flight \
                and self.cursor is not None and head > self.cursor:
            self.subscribe()

    # -- the page's rule --------------------------------------------------------------

    def receive(self, events: list[dict[str, Any]], received: float) -> None:
        for event in events:  # raw: what arrived live, before any rule
            seq = event["seq"]
            if seq < self.max_live:
                self.out_of_order += 1
            self.max_live = max(self.max_live, seq)
            if self.base is not None:
                _bump(self.live, seq - self.base)
            latency = received - _epoch(event["emitted_at"])
            self.latency[int(latency * 1000 / BUCKET_MS)] += 1
            if latency > SLOW_SECONDS:
                self.slow[int(received // SLOT_SECONDS * SLOT_SECONDS)] += 1
        if self.in_flight:
            self.held.extend(events)
            return
        ordered = sorted(events, key=lambda e: e["seq"])
        for i, event in enumerate(ordered):
            seq = event["seq"]
            if self.cursor is not None and seq <= self.cursor:
                continue
            if self.cursor is not None and seq > self.cursor + 1:
                self.held.extend(ordered[i:])
                self.gaps += 1
                break
            self._apply(seq)
        if self.held:
            self.subscribe()

    def _apply(self, seq: int) -> None:
        if self.cursor is not None and seq <= self.cursor:
            self.applied_out_of_order += 1  # the rule never does this: counted to prove it
        if self.base is not None:
            _bump(self.applied, seq - self.base)
        self.cursor = seq if self.cursor is None else max(self.cursor, seq)

    def subscribe(self) -> None:
        if not self.up:
            return
        if self.in_flight:
            self.again = True
            return
        self.in_flight = True
        self.generation += 1
        self.subscribes += 1
        asyncio.get_running_loop().create_task(self._ask(self.generation))

    async def _ask(self, mine: int) -> None:
        try:
            ack = await self.sio.call("subscribe", {"room": "tasks", "since": self.cursor, "batch": True},
                                      timeout=SUBSCRIBE_TIMEOUT)
        except Exception:  # a timeout, or the connection went away meanwhile
            ack = None
        if mine == self.generation:
            self._settle(ack)

    def _settle(self, ack: dict[str, Any] | None) -> None:
        self.in_flight = False
        if not isinstance(ack, dict) or ack.get("ok") is not True:
            self._refused(ack.get("error") if isinstance(ack, dict) else None)
            return
        if self.base is None:
            self.base = ack["head"] + 1
        events = sorted({e["seq"]: e for e in ack.get("events", [])}.values(), key=lambda e: e["seq"])
        for event in events:
            seq = event["seq"]
            if self.base is not None:
                _bump(self.replayed, seq - self.base)
            if self.cursor is None or seq > self.cursor:
                self._apply(seq)
        if ack.get("truncated") and events:
            self.subscribe()  # the held events wait for the rest of the replay
            return
        self.cursor = ack["head"] if self.cursor is None else max(self.cursor, ack["head"])
        waiting, self.held = self.held, []
        for event in sorted(waiting, key=lambda e: e["seq"]):  # after an ack, gaps are gone for good
            if event["seq"] > self.cursor:
                self._apply(event["seq"])
        if self.again:
            self.again = False
            self.subscribe()

    def _refused(self, error: str | None) -> None:
        self.refusals += 1
        self.held = []  # room tasks has no holes: they come back with the next replay
        self.again = False
        wait = retry_after(error)
        if wait is not None:
            asyncio.get_running_loop().call_later(wait, self.subscribe)

    # -- the verdict -------------------------------------------------------------------

    def verdict(self, expected: array) -> dict[str, int]:
        """Per-client counts over the soak window's events (``expected``: their seqs)."""
        def count(counts: bytearray, seq: int) -> int:
            index = seq - (self.base or 0)
            return counts[index] if 0 <= index < len(counts) else 0
        figures = dict.fromkeys(("lost", "doubled", "live_doubled", "live_and_replayed", "replayed"), 0)
        for seq in expected:
            applied, live, replayed = count(self.applied, seq), count(self.live, seq), count(self.replayed, seq)
            figures["lost"] += applied == 0
            figures["doubled"] += applied > 1
            figures["live_doubled"] += live > 1
            figures["live_and_replayed"] += live > 0 and replayed > 0
            figures["replayed"] += live == 0 and replayed > 0
        figures.update(out_of_order=self.applied_out_of_order, live_out_of_order=self.out_of_order,
                       connects=self.connects, subscribes=self.subscribes,
                       refusals=self.refusals, gaps=self.gaps, connected=int(self.up),
                       behind=int(self.cursor is None or (len(expected) and self.cursor < expected[-1])))
        return figures


class SoakGroup:
    """Some of the pages, on one asyncio loop; bench.load.RemoteGroup runs it in a
    process of its own (``connect``, ``reset``, ``check``, ``close``)."""

    def __init__(self, url: str, plan: list[tuple[str | None, str | None]], transport: str,
                 json_module: Any = None) -> None:
        """``plan``: each page's (URL, or None for ``url``; loopback source address or
        None), passed by bench.load where its own groups take the kind of each client."""
        self.latency: Counter = Counter()
        self.slow: Counter = Counter()
        self.pages = [PageClient(own or url, transport, json_module, self.latency, self.slow, source)
                      for own, source in plan]

    async def connect(self) -> None:
        for start in range(0, len(self.pages), 25):
            await asyncio.gather(*(page.connect() for page in self.pages[start:start + 25]))
        deadline = time.monotonic() + 60
        while any(page.base is None for page in self.pages) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    def reset(self) -> None:
        """The start of the measured window: latencies count from here (called as
        bench.load's client process calls ClientGroup.reset: not awaited)."""
        self.latency.clear()
        self.slow.clear()

    async def check(self, expected: array, wait: float) -> dict[str, Any]:
        """Wait (at most ``wait`` s) until every page is past the last expected seq, then
        give each page's verdict and the group's latency histogram."""
        last = expected[-1] if len(expected) else 0
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not all(
                p.cursor is not None and p.cursor >= last and not p.in_flight for p in self.pages):
            await asyncio.sleep(0.5)  # the seq_head notice comes within ~5 s
        values = self.latency
        return {
            "pages": [page.verdict(expected) for page in self.pages],
            "slow": dict(self.slow),
            "latency": {"buckets": dict(values), "n": sum(values.values()),
                        "sum_ms": sum(k * BUCKET_MS * c for k, c in values.items()),
                        "max_ms": max(values, default=0) * BUCKET_MS},
        }

    async def close(self) -> None:
        await asyncio.gather(*(page.sio.disconnect() for page in self.pages), return_exceptions=True)

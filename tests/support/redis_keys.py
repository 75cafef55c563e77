"""What Taskpulse keeps in Redis, listed and checked against README ("Redis keys"): every
key has a TTL or is one of the bounded keys named there. Used by
tests/e2e/test_redis_keys.py and by the soak (bench/soak.py), which lists the keys
after hours of runs."""
from __future__ import annotations

import math
import re

# Keys without a TTL, and what bounds them (README, "Redis keys").
BOUNDED = {
    # RQ: one of each per queue; entries leave as jobs run or their TTLs pass.
    r"rq:queue:[\w.-]+": "list of waiting job ids (empty once the queue is drained)",
    r"rq:queue:[\w.-]+:intermediate": "job ids a worker took and has not started yet (one a worker; "
                                       "the lost-run sweep queues again those a killed worker left)",
    r"rq:queues": "set of queue names",
    r"rq:(?:wip|started|finished|failed|deferred|scheduled|canceled|active|intermediate)"
    r":[\w.-]+": "registry sorted set; each entry's score is its expiry, RQ's cleanup drops it then",
    # RQ: one of each per worker; RQ drops dead workers (worker_ttl).
    r"rq:workers": "set of worker keys",
    r"rq:workers:[\w.-]+": "set of the workers of one queue",
}
# Registries whose members carry their expiry (a finite score) as the bound.
REGISTRY = re.compile(r"rq:(?:wip|started|finished|failed|deferred|scheduled|canceled|active|intermediate):")
# The longest TTL a key may have: a failed run's RQ job (7 days, so `rq info` lists it
# for a week) and a run's process record's backstop (8 days). Longer is as good as none.
MAX_TTL = 8 * 24 * 3600


def keys_without_ttl(client) -> dict[str, str]:
    """Every key (SCAN) that has no TTL, with its type."""
    found = {}
    for key in client.scan_iter(count=1000):
        if client.ttl(key) == -1:
            found[key.decode()] = client.type(key).decode()
    return found


def registered_jobs(client) -> set[str]:
    """``rq:job:<id>`` of the jobs an RQ registry of jobs in hand (started, wip) holds
    with an expiry: a job whose worker was SIGKILLed stays there, without a TTL, until
    RQ's registry cleanup fails it (and gives it the failed job's TTL)."""
    held = set()
    for key in client.scan_iter(match="rq:*", count=1000):
        if re.fullmatch(rb"rq:(?:started|wip):[\w.-]+", key):
            held |= {b"rq:job:" + member.split(b":")[0] for member, score in
                     client.zrange(key, 0, -1, withscores=True) if not math.isinf(score)}
    return {key.decode() for key in held}


def unbounded(client, keys: dict[str, str]) -> list[str]:
    """What breaks the README's bounds: a key no pattern names (a job without a TTL is
    bounded only while a registry holds it with an expiry), a registry entry that never
    expires, a queue with jobs left."""
    problems = []
    in_hand = registered_jobs(client)
    for key, kind in sorted(keys.items()):
        if key in in_hand:
            continue
        if not any(re.fullmatch(pattern, key) for pattern in BOUNDED):
            problems.append(f"{key} ({kind}): no TTL and not a documented bounded key")
        elif REGISTRY.match(key):
            endless = [m for m, score in client.zrange(key, 0, -1, withscores=True) if math.isinf(score)]
            if endless:
                problems.append(f"{key}: entries that never expire: {endless[:5]}")
        elif key.startswith("rq:queue:") and not key.endswith(":intermediate") and client.llen(key):
            problems.append(f"{key}: {client.llen(key)} jobs left after every run ended")
    return problems


def key_shapes(client) -> dict[str, tuple[int, int]]:
    """Every key's shape (numbers and hex digests as ``#``) -> (how many, longest TTL)."""
    shapes: dict[str, tuple[int, int]] = {}
    for key in client.scan_iter(count=1000):
        shape = re.sub(r"[0-9a-f]{16,}|\d+", "#", key.decode())
        count, longest = shapes.get(shape, (0, -2))
        shapes[shape] = (count + 1, max(longest, client.ttl(key)))
    return shapes

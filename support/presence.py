"""Who else has a ticket open right now: “Alex is viewing”, “Sam is replying”.

Collision detection for agents. Each open ticket page reports its agent every few seconds;
the report lives in Redis for a short TTL, so a closed tab disappears on its own.

One sorted set per ticket, `cx:presence:<ticket id>`, holds members `"<user id>:<state>"`
scored by the moment they expire (Unix seconds). Reading first drops expired members
(ZREMRANGEBYSCORE), so the score is the truth; the key's own EXPIRE only collects sets
nobody touches any more. `now` and `ttl` can be passed so tests need not sleep.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from accounts.models import User

VIEWING = "viewing"
REPLYING = "replying"
STATES = (VIEWING, REPLYING)
# When one agent has two tabs open, the busier state is the one others should see.
_PRECEDENCE = {VIEWING: 0, REPLYING: 1}

_client: redis.Redis | None = None
_client_url: str | None = None


def _redis() -> redis.Redis:
    """The module's Redis client, made on first use (and again if REDIS_URL changes)."""
    global _client, _client_url
    if _client is None or _client_url != settings.REDIS_URL:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        _client_url = settings.REDIS_URL
    return _client


def presence_key(ticket_id: int) -> str:
    return f"cx:presence:{ticket_id}"


@dataclass(frozen=True)
class Presence:
    user_id: int
    name: str
    state: str

    @property
    def label(self) -> str:
        return f"{self.name} is {self.state}"


def presence_touch(
    ticket_id: int,
    user: User | int,
    state: str = VIEWING,
    *,
    ttl: float | None = None,
    now: float | None = None,
) -> None:
    """Record that `user` has the ticket open in `state` until `now + ttl`."""
    if state not in STATES:
        raise ValueError(f"Unknown presence state {state!r}; expected one of {STATES}.")
    user_id = user if isinstance(user, int) else user.pk
    ttl = settings.CX_PRESENCE_TTL_SECONDS if ttl is None else ttl
    now = time.time() if now is None else now
    key = presence_key(ticket_id)
    pipe = _redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zrem(key, *[f"{user_id}:{other}" for other in STATES if other != state])
    pipe.zadd(key, {f"{user_id}:{state}": now + ttl})
    pipe.zrange(key, -1, -1, withscores=True)
    *_, latest = pipe.execute()
    # The key lives as long as its longest-lived member (at least `ttl`), in the caller's
    # clock, so a short test TTL cannot cut short another agent's longer one.
    longest = max(latest[0][1] - now, ttl) if latest else ttl
    _redis().expire(key, max(1, math.ceil(longest)))


def presence_leave(ticket_id: int, user: User | int) -> None:
    """Forget `user` on this ticket at once (the page was closed)."""
    user_id = user if isinstance(user, int) else user.pk
    _redis().zrem(presence_key(ticket_id), *[f"{user_id}:{state}" for state in STATES])


def presence_list(
    ticket_id: int, exclude_user_id: int | None = None, now: float | None = None
) -> list[Presence]:
    """The agents who have the ticket open, but `exclude_user_id`, by name.

    Expired members are removed first. Names come from one query for all ids.
    """
    now = time.time() if now is None else now
    key = presence_key(ticket_id)
    pipe = _redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zrangebyscore(key, f"({now}", "+inf")
    _, members = pipe.execute()
    states: dict[int, str] = {}
    for member in members:
        raw_id, _, state = member.decode().partition(":")
        if not raw_id.isdigit() or state not in STATES:
            continue
        user_id = int(raw_id)
        if user_id == exclude_user_id:
            continue
        if _PRECEDENCE[state] >= _PRECEDENCE.get(states.get(user_id, ""), -1):
            states[user_id] = state
    if not states:
        return []
    names = {
        pk: full_name or email
        for pk, full_name, email in User.objects.filter(pk__in=states, is_active=True).values_list(
            "pk", "full_name", "email"
        )
    }
    people = [
        Presence(user_id=pk, name=names[pk], state=state)
        for pk, state in states.items()
        if pk in names
    ]
    return sorted(people, key=lambda p: (-_PRECEDENCE[p.state], p.name))

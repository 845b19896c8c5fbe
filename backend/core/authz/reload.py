"""Policy reload without restart: ``python -m backend authz reload`` publishes on a Redis channel that
every API process and worker listens to; ``SIGHUP`` reloads one process locally."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import redis
import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

RELOAD_CHANNEL = "worktime:authz:reload"
_RETRY_SECONDS = 2.0


async def publish_reload(client: Redis) -> int:
    """Ask every listening process to reload; returns how many processes received the message."""
    receivers: int = await client.publish(RELOAD_CHANNEL, "reload")
    return receivers


async def listen_for_reload(client: Redis, reload: Callable[[], None]) -> None:
    """Run until cancelled (the API's lifespan owns this task); reconnects after Redis outages."""
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(RELOAD_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        _reload_safely(reload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: keep the current policy, try again shortly
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # redis-py can turn a cancellation into a connection error: stopping wins.
                raise asyncio.CancelledError from exc
            log.warning("authz_reload_listener_down", error=type(exc).__name__)
            await asyncio.sleep(_RETRY_SECONDS)


def watch_for_reload(url: str, reload: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """The worker's listener: a daemon thread with a blocking subscription."""

    def run() -> None:
        while not stop.is_set():
            try:
                client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
                with client.pubsub() as pubsub:  # type: ignore[no-untyped-call]
                    pubsub.subscribe(RELOAD_CHANNEL)
                    while not stop.is_set():
                        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message and message.get("type") == "message":
                            _reload_safely(reload)
            except Exception as exc:
                log.warning("authz_reload_listener_down", error=type(exc).__name__)
                stop.wait(_RETRY_SECONDS)

    thread = threading.Thread(target=run, name="authz-reload", daemon=True)
    thread.start()
    return thread


def _reload_safely(reload: Callable[[], None]) -> None:
    try:
        reload()
    except Exception:  # a broken policy file keeps the previous policy in force
        log.exception("authz_policy_reload_failed")

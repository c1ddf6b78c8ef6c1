"""What a worker held when its Redis connection dropped, settled once it is back.

A task is acknowledged after it ran (``acks_late``); until then its message
waits in Redis's set of unacknowledged messages. When the connection drops,
kombu tries to put the worker's messages back and cannot (Redis is what went
away), and Celery forgets the ones it had not started: reserved ones, and
ones counting down to a retry or an ETA. Redis hands those out again only
after the visibility timeout, an hour (``PARAPET_UNIT_TIMEOUT_SECONDS``), so a
scan waited an hour for units no worker was collecting. The acknowledgements
of tasks that were running were lost as well, and their messages came back an
hour later as duplicates.

So this consumer notes what it held as the connection drops, and once it is
connected again: messages it had not started go back to their queues, tasks
that ended meanwhile are acknowledged (or requeued, as they asked), and tasks
still running acknowledge over the new connection.

Only the Redis transport needs this, and only it is handled: its delivery
tags are keys in Redis, good from any connection. (An AMQP broker requeues a
closed connection's unacknowledged messages itself.)
"""

import logging
from dataclasses import dataclass, field

from celery import bootsteps
from celery.worker import state
from celery.worker.consumer import Consumer as CeleryConsumer

log = logging.getLogger(__name__)

SETTLE_STEP = "config.redelivery:Settle"


class StandIn:
    """The lost channel, as the messages held see it: it keeps what each
    should become (acknowledged, rejected, requeued) until a connection can
    carry it."""

    no_ack_consumers = None  # kombu's Message.ack reads it

    def __init__(self) -> None:
        self.outcomes: dict[str, bool | None] = {}  # tag: requeue, None: ack

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        self.outcomes[delivery_tag] = None

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.outcomes[delivery_tag] = requeue


@dataclass
class Held:
    """What the consumer held when its connection dropped."""

    messages: list = field(default_factory=list)  # kombu messages not settled
    unstarted: set[str] = field(default_factory=set)  # their tags, not running
    stand_in: StandIn = field(default_factory=StandIn)

    def __bool__(self) -> bool:
        return bool(self.messages or self.stand_in.outcomes)


def _holds_redis_messages(consumer: CeleryConsumer) -> bool:
    connection = consumer.connection
    return bool(
        connection is not None
        and getattr(connection.transport, "driver_type", None) == "redis"
    )


def note_held(held: Held) -> None:
    """Add the worker's unacknowledged messages to ``held``, on its stand-in
    channel. A reserved task the pool takes up after this acknowledges there
    too (and runs twice: tasks here tolerate a duplicate, acks_late or not)."""
    requests = {
        r
        for r in (
            *state.active_requests,
            *state.reserved_requests,
            *state.scheduled_requests,
        )
        if not r.acknowledged
    }
    for request in requests:
        message = request.message
        message.channel = held.stand_in
        held.messages.append(message)
        if request not in state.active_requests:
            held.unstarted.add(message.delivery_tag)


def settle(channel, held: Held) -> dict[str, int]:
    """Settle ``held`` over ``channel``, a channel of the new connection."""
    # Move the messages first: nothing reaches the stand-in after this.
    for message in held.messages:
        message.channel = channel
    running = len(held.messages) - len(held.unstarted)
    held.messages = []
    outcomes, held.stand_in.outcomes = held.stand_in.outcomes, {}
    for tag, requeue in outcomes.items():
        if requeue is None:
            channel.basic_ack(tag)
        else:
            channel.basic_reject(tag, requeue=requeue)
    unstarted, held.unstarted = held.unstarted - outcomes.keys(), set()
    for tag in unstarted:
        channel.qos.restore_by_tag(tag)
    return {
        "put back": len(unstarted),
        "settled": len(outcomes),
        "running": max(running - len(outcomes), 0),
    }


class Consumer(CeleryConsumer):
    """Celery's consumer, noting what it holds as its connection drops
    (``worker_consumer`` in config/settings.py)."""

    class Blueprint(CeleryConsumer.Blueprint):
        default_steps = [*CeleryConsumer.Blueprint.default_steps, SETTLE_STEP]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.held = Held()

    def on_connection_error_after_connected(self, exc) -> None:
        if _holds_redis_messages(self) and self.task_consumer is not None:
            note_held(self.held)
            # Settle puts them back over the next connection. kombu's own try,
            # as the lost channel closes, cannot reach Redis, and can raise an
            # AttributeError past Celery's handling that stops the worker.
            self.task_consumer.channel.do_restore = False
        super().on_connection_error_after_connected(exc)


class Settle(bootsteps.StartStopStep):
    """Once the task consumer is connected again, settle what was held."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer: Consumer) -> None:
        held = getattr(consumer, "held", None)
        if not held:
            return
        done = settle(consumer.task_consumer.channel, held)
        log.warning(
            "broker connection back: %(put back)s messages not started put back "
            "in their queues, %(settled)s tasks that ended meanwhile settled, "
            "%(running)s running tasks to acknowledge over the new connection",
            done,
        )

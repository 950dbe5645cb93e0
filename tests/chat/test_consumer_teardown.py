"""A chat consumer whose pump died on a send to a vanished client is freed without a collection (issue 14 point 2).

When a client goes away while its socket's pump is sending, uvicorn's ``send`` raises ``ClientDisconnected`` and the
pump task ends on it. That error's traceback holds the pump's frame, and so the consumer; the consumer held the task:
a reference cycle, holding the socket's whole state, that only a full collection freed
(``bench/socket_memory.py`` counted 74 such sockets of 300 in one run).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref

from uvicorn.protocols.utils import ClientDisconnected

from apps.chat.consumers import ChatConsumer


def test_a_consumer_whose_pump_failed_is_freed_by_reference_counting() -> None:
    async def scenario() -> weakref.ref:
        consumer = ChatConsumer()

        async def pump_sending_to_a_vanished_client() -> None:
            assert consumer.pump is not None  # the frame holds the consumer, as ChatConsumer._pump's does
            raise ClientDisconnected()

        consumer.pump = asyncio.create_task(pump_sending_to_a_vanished_client())
        await asyncio.wait([consumer.pump])
        assert isinstance(consumer.pump.exception(), ClientDisconnected)
        await consumer.disconnect(1000)
        return weakref.ref(consumer)

    gc.collect()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "Task exception was never retrieved"
            consumer_ref = asyncio.run(scenario())
        assert consumer_ref() is None, "the consumer is cyclic garbage"
    finally:
        gc.enable()

"""A broker connection lost with deliveries unacknowledged does not crash the worker: kombu's
restore on the closing channel is skipped once its transport has let go of the connection
(kombu 5.7 raised AttributeError there and ended the worker's main process)."""

from types import SimpleNamespace
from typing import Any

import pytest
from kombu.transport import redis as kombu_redis

import wireflow_site.celery  # noqa: F401  - installs the fix, as the worker does
from wireflow_site import brokerfix


def _qos(transport_client: Any) -> Any:
    qos: Any = object.__new__(kombu_redis.QoS)
    qos.channel = SimpleNamespace(connection=SimpleNamespace(client=transport_client))
    qos._delivered = {"tag-1": object(), "tag-2": object()}
    return qos


def test_the_worker_s_kombu_restores_through_the_fix() -> None:
    assert kombu_redis.QoS.restore_unacked is brokerfix.restore_unacked_while_connected


def test_a_restore_after_the_connection_is_gone_is_skipped_not_raised() -> None:
    qos = _qos(transport_client=None)
    assert brokerfix.restore_unacked_while_connected(qos) is None
    assert qos._delivered == {}


def test_kombu_s_own_restore_raises_there(monkeypatch: pytest.MonkeyPatch) -> None:
    # The crash the fix prevents: kombu builds a Redis pool from the transport's client.
    qos = _qos(transport_client=None)
    qos.channel = kombu_redis.Channel.__new__(kombu_redis.Channel)
    qos.channel.connection = SimpleNamespace(client=None, default_port=6379)
    qos.channel._pool = None
    qos.channel.connection_class = None
    with pytest.raises(AttributeError):
        brokerfix._restore_unacked(qos)


def test_a_restore_while_connected_is_kombu_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(brokerfix, "_restore_unacked",
                        lambda qos, client=None: seen.append((qos, client)))
    qos = _qos(transport_client=object())
    brokerfix.restore_unacked_while_connected(qos)
    assert seen == [(qos, None)] and len(qos._delivered) == 2

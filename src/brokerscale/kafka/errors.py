"""One mapping from kafka-python's exceptions to brokerscale's one-line errors.

A broker that does not answer is an outage (`Unreachable`); a request the cluster refused is a failed
read or change (`OperationFailed`), named with what was asked and Kafka's error name. Messages are cut
to one line: kafka-python puts whole request and response reprs into some of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from brokerscale.errors import BrokerscaleError, NotAuthorized, OperationFailed, Unreachable, named

# kafka-python error names that mean "nobody answered", not "the cluster said no".
_OUTAGE = frozenset({"KafkaConnectionError", "NoBrokersAvailable", "KafkaTimeoutError", "NodeNotReadyError",
                     "RequestTimedOutError", "BrokerNotAvailableError", "CancelledError"})


def kafka_error_types() -> tuple[type[BaseException], ...]:
    """What a kafka-python call can raise besides programming errors."""
    from kafka.errors import KafkaError

    return (KafkaError, OSError)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or type(exc).__name__ in _OUTAGE


def is_authorization(exc: BaseException) -> bool:
    """The cluster refused the request because the principal lacks an ACL (Topic/Group/Cluster/...)."""
    return type(exc).__name__.endswith("AuthorizationFailedError")


def describe(exc: BaseException) -> str:
    """`Name: first line of the message` (the name alone when the message says nothing more)."""
    return named(exc).splitlines()[0][:300]


def translate(exc: BaseException, what: str, where: str, *, write: bool = False) -> BrokerscaleError:
    message = f"{what} failed on {where}: {describe(exc)}"
    if write and is_authorization(exc):  # reads degrade (or say Unreachable) as their callers decide
        return NotAuthorized(f"{what} is not permitted on {where}: this principal lacks the ACL it needs "
                             f"(Kafka: {type(exc).__name__}); `brokerscale doctor` lists what is missing")
    if is_outage(exc) or not write:
        return Unreachable(message)
    return OperationFailed(message)


@contextmanager
def kafka_call(what: str, where: str, *, write: bool = False) -> Iterator[None]:
    """Run admin calls; a kafka-python error leaves as one `Unreachable` / `OperationFailed` line."""
    try:
        yield
    except kafka_error_types() as exc:
        raise translate(exc, what, where, write=write) from None

"""RQ jobs of the notifications app: thin, take ids, call one service. Each is safe to run twice."""

from .services import message_send, messages_dispatch, messages_send


def messages_send_job() -> int:
    """The outbox drain: send the messages that are due (see services.messages_send)."""
    return messages_send()


def message_send_job(message_id: int) -> str | None:
    """One message's retry, at the time its backoff set."""
    return message_send(message_id)


def messages_dispatch_job() -> int:
    return messages_dispatch()

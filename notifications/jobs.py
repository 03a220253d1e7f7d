"""RQ jobs of the notifications app: thin, take ids, call one service. Each is safe to run twice."""

from .services import message_send, messages_dispatch


def message_send_job(message_id: int) -> str | None:
    return message_send(message_id)


def messages_dispatch_job() -> int:
    return messages_dispatch()

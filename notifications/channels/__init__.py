"""Channel registry: one file per channel; kind -> class path (lazy imports). Adding WhatsApp or push
is one file and one line here."""

from __future__ import annotations

from importlib import import_module

from .base import Channel, ChannelError

CHANNELS_PATHS: dict[str, str] = {
    "sms": "notifications.channels.sms.SmsChannel",
    "email": "notifications.channels.email.EmailChannel",
}


def get_channel(kind: str) -> Channel:
    module_path, class_name = CHANNELS_PATHS[kind].rsplit(".", 1)
    return getattr(import_module(module_path), class_name)()


def channels_warm_up() -> None:
    """Import every channel and load what its first send would (see Channel.warm_up)."""
    for kind in CHANNELS_PATHS:
        get_channel(kind).warm_up()


__all__ = ["CHANNELS_PATHS", "Channel", "ChannelError", "channels_warm_up", "get_channel"]

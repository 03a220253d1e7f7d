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


__all__ = ["CHANNELS_PATHS", "Channel", "ChannelError", "get_channel"]

"""Photos customers attach to returns (e.g. of a damaged item): checked by their bytes, not their name."""

from __future__ import annotations

from django.conf import settings
from django.core.files import File

# Leading bytes of the formats phones produce. HEIC is an ISO media file whose brand follows "ftyp".
SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"GIF87a": "image/gif",
              b"GIF89a": "image/gif"}  # fmt: skip
HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"hevc")


def photo_content_type(photo: File) -> str | None:
    """The image type its first bytes show, or None when they are not a photo's."""
    photo.open("rb")
    photo.seek(0)
    head = photo.read(16)
    photo.seek(0)
    for signature, content_type in SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "image/heic"
    return None


def photo_problem(photo: File) -> str:
    """Why this upload is not an acceptable photo, or "" when it is."""
    if photo.size > settings.RETURN_PHOTO_MAX_BYTES:
        return f"That photo is too large: up to {settings.RETURN_PHOTO_MAX_BYTES // (1024 * 1024)} MB please."
    if photo_content_type(photo) is None:
        return "That file is not a photo: send a JPEG, PNG, GIF, WebP or HEIC image."
    return ""

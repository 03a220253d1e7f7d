"""Which store signed a webhook: the stores' webhook secrets, kept in each process between deliveries.

Reading every store's secrets from the database was one of the few round trips a webhook makes, and
it is the hottest door of the hub (bench/README.md). Each process keeps a snapshot instead, and stays
exactly as strict as a fresh read:
- a signature that matches no secret in the snapshot re-reads the stores before it is refused, so a
  store or secret added a moment ago is accepted at once;
- a secret that was changed or cleared after the snapshot is refused at once too: the delivery is
  stored by a statement that inserts only while the store still holds the secret it was verified with
  (orders.ingest), and when it inserts nothing the snapshot is re-read and the signature checked again;
- what no statement can check (which store is the single-store default for the env fallback secret)
  is at most SNAPSHOT_TTL old, and a store saved in this process drops the snapshot right away.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .connectors import CONNECTORS, get_connector
from .connectors.base import Connector, SignatureError
from .models import Store

SNAPSHOT_TTL = 60.0  # seconds


class UnknownStore(Exception):
    """The delivery names a store (by slug or shop domain) the hub does not have: answered 404."""


@dataclass(frozen=True)
class Signer:
    """The store a delivery came from, and the secret it was verified with ("" for the env fallback)."""

    store_id: int
    secret_field: str
    secret: str


@dataclass(frozen=True)
class _StoreSecrets:
    pk: int
    slug: str
    shopify_domain: str
    secrets: Mapping[str, str]  # Store field name -> secret


@dataclass(frozen=True)
class _Snapshot:
    stores: tuple[_StoreSecrets, ...]
    taken_at: float

    @classmethod
    def take(cls) -> _Snapshot:
        fields = sorted({get_connector(source).secret_field for source in CONNECTORS})
        rows = Store.objects.order_by("pk").values_list("pk", "slug", "shopify_domain", *fields)
        stores = tuple(
            _StoreSecrets(pk, slug, domain, dict(zip(fields, secrets, strict=True)))
            for pk, slug, domain, *secrets in rows
        )
        return cls(stores, time.monotonic())

    def default(self) -> _StoreSecrets | None:
        """The single-store install's store, as services.store_get_default() finds it."""
        if settings.DEFAULT_STORE_SLUG:
            return next((s for s in self.stores if s.slug == settings.DEFAULT_STORE_SLUG), None)
        return self.stores[0] if len(self.stores) == 1 else None

    def candidates(self, connector: Connector, env_secret: str, store_slug: str, hint: str) -> list[Signer]:
        """The stores this delivery may come from, each with the secret to check. Raises UnknownStore."""
        default = self.default() if env_secret else None
        if store_slug:
            named = next((s for s in self.stores if s.slug == store_slug), None)
            if named is None:
                raise UnknownStore(f"no store {store_slug!r}")
            stores = [named]
        elif hint:
            # Shopify names its shop; an unknown shop is only accepted for a single-store install.
            named = next((s for s in self.stores if s.shopify_domain == hint), None)
            if named is None and default is None:
                raise UnknownStore(f"no store for shop {hint!r}")
            stores = [named or default]
        else:
            stores = [s for s in self.stores if s.secrets[connector.secret_field]]
            if default is not None and default not in stores:
                stores.append(default)
            if not stores:
                raise SignatureError(f"no {connector.label} webhook secret is configured")
        signers = []
        for store in stores:
            own = store.secrets[connector.secret_field]
            if own or store is default:
                signers.append(Signer(store.pk, connector.secret_field, own))
        return signers


_snapshot: _Snapshot | None = None


def signer_find(
    connector: Connector, body: bytes, headers: Mapping[str, str], store_slug: str = "", *, reread: bool = False
) -> Signer:
    """The store whose secret signed this delivery. Raises UnknownStore (404) or SignatureError (401).

    `reread` reads the stores again first (the secret a signer was found with is no longer the store's).
    """
    global _snapshot
    env_secret = getattr(settings, connector.secret_setting, "")
    hint = connector.store_hint(headers, {})
    fresh = reread or _snapshot is None or time.monotonic() - _snapshot.taken_at > SNAPSHOT_TTL
    while True:
        if fresh:
            _snapshot = _Snapshot.take()
        try:
            signers = _snapshot.candidates(connector, env_secret, store_slug, hint)
            return _verified(connector, body, headers, signers, env_secret)
        except (UnknownStore, SignatureError):
            if fresh:
                raise
            fresh = True  # the snapshot may predate the store or the secret: read it again, once


def _verified(
    connector: Connector, body: bytes, headers: Mapping[str, str], signers: list[Signer], env_secret: str
) -> Signer:
    """The first signer whose secret verifies the delivery. Else raises the error that says most: that of a
    store whose secret signed it but refused it for another reason (a Stripe timestamp outside the tolerance),
    rather than the last store's "no signature matches"."""
    error: SignatureError | None = None
    for signer in signers:
        try:
            connector.verify(body, headers, signer.secret or env_secret)
        except SignatureError as exc:
            if error is None or (exc.signed and not error.signed):
                error = exc
            continue
        return signer
    raise error or SignatureError("no secret to check the signature with")


def signers_forget() -> None:
    """Drop the snapshot: the next delivery reads the stores again."""
    global _snapshot
    _snapshot = None


@receiver([post_save, post_delete], sender=Store, dispatch_uid="orders.signers.forget")
def _store_changed(**kwargs: object) -> None:
    signers_forget()

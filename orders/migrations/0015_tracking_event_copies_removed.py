"""Timelines stored before two sources' copies of one scan were merged on arrival (a Shopify fulfillment
event relaying the scan EasyPost reported too) keep both copies; this keeps the one from the source nearest
the carrier, as arrival does now (orders.services.shipment_copies_remove). Only parcels with events from
more than one source are read."""

from django.db import migrations, transaction
from django.db.models import Count

CHUNK = 500


def copies_remove(apps, schema_editor):
    from orders.services import shipment_copies_remove

    alias = schema_editor.connection.alias
    Shipment = apps.get_model("orders", "Shipment")
    TrackingEvent = apps.get_model("orders", "TrackingEvent")
    mixed = (
        TrackingEvent.objects.using(alias)
        .values("shipment")
        .annotate(sources=Count("source", distinct=True))
        .filter(sources__gt=1)
        .values_list("shipment", flat=True)
    )
    ids = sorted(mixed)
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic(using=alias):
            chunk = Shipment.objects.using(alias).filter(pk__in=ids[start : start + CHUNK]).order_by("pk")
            for shipment in chunk.select_for_update():
                shipment_copies_remove(shipment)


class Migration(migrations.Migration):
    atomic = False  # a transaction per chunk: a large history does not hold every parcel's lock at once

    dependencies = [
        ("orders", "0014_address_failed_index_by_date"),
    ]

    operations = [
        migrations.RunPython(copies_remove, migrations.RunPython.noop, elidable=True),
    ]

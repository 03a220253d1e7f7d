from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def mark_erased_orders(apps, schema_editor):
    """Mark the orders erased before orders had a mark of their own: those of erased customers placed before
    their erasure, and those an erasure request named (a guest checkout's). A whole store's, erased when it
    removed the app, get no further updates to keep out."""
    Order = apps.get_model("orders", "Order")
    DataRequest = apps.get_model("orders", "DataRequest")
    erased = Order.objects.filter(customer__erased_at__gt=F("placed_at"), erased_at__isnull=True)
    erased.update(erased_at=Subquery(Order.objects.filter(pk=OuterRef("pk")).values("customer__erased_at")[:1]))
    requests = DataRequest.objects.filter(kind="erasure", completed_at__isnull=False).exclude(orders_named=[])
    for request in requests.iterator():
        Order.objects.filter(
            store_id=request.store_id, external_id__in=request.orders_named, erased_at__isnull=True
        ).update(erased_at=request.completed_at)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0016_personal_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="erased_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Recipient, street and postal code erased on request; later updates do not bring them back.",
                null=True,
                verbose_name="personal data erased",
            ),
        ),
        migrations.RunPython(mark_erased_orders, migrations.RunPython.noop, elidable=True),
    ]

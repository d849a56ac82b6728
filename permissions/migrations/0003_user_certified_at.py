"""User.certified_at, in three steps (STYLE: add nullable, fill, tighten): every user who
exists when it is added counts as confirmed now, so nobody lapses on the day of the upgrade."""

import django.utils.timezone
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def certify_existing_users(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    user_model = apps.get_model("permissions", "User")
    user_model.objects.filter(certified_at__isnull=True).update(
        certified_at=django.utils.timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("permissions", "0002_moderation"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="certified_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(certify_existing_users, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="certified_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When the institution's focal point last confirmed this user.",
            ),
        ),
    ]

"""The four thematic channels every installation starts with (SPEC §2)."""

from django.db import migrations

THEMATIC_CHANNELS = [
    (
        "cybercrime",
        "Cybercrime",
        "cybercrime",
        "Investigating and prosecuting cybercrime: ransomware, online fraud, evidence across borders.",
    ),
    (
        "penitentiary",
        "Penitentiary policy",
        "penitentiary",
        "Prison management, rehabilitation and the pandemic's lessons for penitentiary systems.",
    ),
    (
        "corruption",
        "Corruption",
        "corruption",
        "Preventing, detecting and prosecuting corruption; asset recovery.",
    ),
    (
        "medical-waste",
        "Traffic of medical waste",
        "medical_waste",
        "Illegal traffic and disposal of medical waste, a crime the pandemic brought to the fore.",
    ),
]


def create_channels(apps, schema_editor):
    Channel = apps.get_model("channels_app", "Channel")
    for slug, title, theme, description in THEMATIC_CHANNELS:
        Channel.objects.get_or_create(
            slug=slug, defaults={"title": title, "theme": theme, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("channels_app", "0002_message_relations")]

    operations = [migrations.RunPython(create_channels, migrations.RunPython.noop)]

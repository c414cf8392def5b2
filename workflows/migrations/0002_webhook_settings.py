from django.db import migrations, models


def enable_existing_webhooks(apps, schema_editor):
    # A workflow that already has a webhook id had its webhook on.
    Workflow = apps.get_model("workflows", "Workflow")
    Workflow.objects.filter(webhook_id__isnull=False).update(webhook_enabled=True)


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='workflow',
            name='webhook_enabled',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='workflow',
            name='webhook_secret',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.RunPython(enable_existing_webhooks, migrations.RunPython.noop),
    ]

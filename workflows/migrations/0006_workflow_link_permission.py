from django.db import migrations, models


class Migration(migrations.Migration):
    """Sharing a workflow by link: "private" (the team only, as before) or "view" (anyone with
    the link sees the public page)."""

    dependencies = [
        ("workflows", "0005_drop_workflow_is_template"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflow",
            name="link_permission",
            field=models.CharField(choices=[("private", "Private"), ("view", "View")],
                                   default="private", max_length=10),
        ),
    ]

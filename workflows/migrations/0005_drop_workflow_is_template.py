# The starter templates are gallery templates now (workflows.Template, scope "starter"): a
# workflow no longer marks itself as one.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0004_teams_templates_versions'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='workflow',
            name='one_template_per_slug_per_team',
        ),
        migrations.RemoveField(
            model_name='workflow',
            name='is_template',
        ),
        migrations.RemoveField(
            model_name='workflow',
            name='template_slug',
        ),
    ]

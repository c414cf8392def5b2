"""Foreign keys that lead a composite index or a unique constraint lose their own index
(the longer one serves every lookup it did), and node runs' cache_key its LIKE index."""

import django.db.models.deletion
from django.db import migrations, models

from wireflow_site.dbindexes import FieldIndex, drop_field_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_drop_redundant_indexes'),
        ('workflows', '0006_workflow_link_permission'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='template',
                    name='team',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='templates', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='workflow',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='workflows', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='workflowversion',
                    name='workflow',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='workflows.workflow'),
                ),
            ],
            database_operations=[drop_field_indexes(
                FieldIndex('workflows_template_team_id_dc178aa7', 'workflows_template', 'team_id'),
                FieldIndex('workflows_workflow_team_id_63a4f22b', 'workflows_workflow', 'team_id'),
                FieldIndex('workflows_workflowversion_workflow_id_bbe86d4b', 'workflows_workflowversion', 'workflow_id'),
            )],
        ),
    ]

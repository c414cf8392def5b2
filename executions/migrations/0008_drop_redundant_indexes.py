"""Foreign keys that lead a composite index or a unique constraint lose their own index
(the longer one serves every lookup it did), and node runs' cache_key its LIKE index."""

import django.db.models.deletion
from django.db import migrations, models

from wireflow_site.dbindexes import FieldIndex, drop_field_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_drop_redundant_indexes'),
        ('executions', '0007_node_phase_choices'),
        ('workflows', '0007_drop_redundant_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='batch',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='batchrow',
                    name='batch',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='rows', to='executions.batch'),
                ),
                migrations.AlterField(
                    model_name='execution',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='executions', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='execution',
                    name='workflow',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='executions', to='workflows.workflow'),
                ),
                migrations.AlterField(
                    model_name='executionevent',
                    name='execution',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='executions.execution'),
                ),
                migrations.AlterField(
                    model_name='idempotencyrecord',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='noderun',
                    name='cache_key',
                    field=models.CharField(blank=True, default='', max_length=64),
                ),
                migrations.AlterField(
                    model_name='noderun',
                    name='execution',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='node_runs', to='executions.execution'),
                ),
                migrations.AlterField(
                    model_name='upload',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='uploads', to='accounts.team'),
                ),
            ],
            database_operations=[drop_field_indexes(
                FieldIndex('executions_batch_team_id_2dae50a1', 'executions_batch', 'team_id'),
                FieldIndex('executions_batchrow_batch_id_7c8122b1', 'executions_batchrow', 'batch_id'),
                FieldIndex('executions_execution_team_id_371a96b8', 'executions_execution', 'team_id'),
                FieldIndex('executions_execution_workflow_id_0c141a15', 'executions_execution', 'workflow_id'),
                FieldIndex('executions_executionevent_execution_id_5a623c7d', 'executions_executionevent', 'execution_id'),
                FieldIndex('executions_idempotencyrecord_team_id_87a2870b', 'executions_idempotencyrecord', 'team_id'),
                FieldIndex('executions_noderun_cache_key_02fa8233', 'executions_noderun', 'cache_key'),
                FieldIndex('executions_noderun_cache_key_02fa8233_like', 'executions_noderun', 'cache_key', 'varchar_pattern_ops'),
                FieldIndex('executions_noderun_execution_id_5ac7429c', 'executions_noderun', 'execution_id'),
                FieldIndex('executions_upload_team_id_f87b6ccb', 'executions_upload', 'team_id'),
            )],
        ),
        migrations.AddIndex(
            model_name='noderun',
            index=models.Index(fields=['cache_key'], name='noderun_cache_key'),
        ),
    ]

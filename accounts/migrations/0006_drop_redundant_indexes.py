"""Foreign keys that lead a composite index or a unique constraint lose their own index
(the longer one serves every lookup it did), and node runs' cache_key its LIKE index."""

import django.db.models.deletion
from django.db import migrations, models

from wireflow_site.dbindexes import FieldIndex, drop_field_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_provider_keys'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='creditentry',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='credit_entries', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='invitation',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='invitations', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='membership',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='providerkey',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='provider_keys', to='accounts.team'),
                ),
            ],
            database_operations=[drop_field_indexes(
                FieldIndex('accounts_creditentry_team_id_483157ed', 'accounts_creditentry', 'team_id'),
                FieldIndex('accounts_invitation_team_id_a42a47a0', 'accounts_invitation', 'team_id'),
                FieldIndex('accounts_membership_team_id_c9c6c909', 'accounts_membership', 'team_id'),
                FieldIndex('accounts_providerkey_team_id_750c62bc', 'accounts_providerkey', 'team_id'),
            )],
        ),
    ]

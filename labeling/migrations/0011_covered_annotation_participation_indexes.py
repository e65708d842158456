"""Every claim inserts a participation and every submit an annotation: drop their covered indexes.

The foreign-key indexes on annotation task, project and author and on participation task and user
duplicate the leading columns of a constraint or index the model already has; the index on
`corrects` becomes partial (only reviewers' corrections have one).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0010_drop_redundant_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='annotation',
            name='author',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='annotations', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='corrects',
            field=models.ForeignKey(blank=True, db_index=False, help_text="A reviewer's correction: the annotation it corrects.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='corrections', to='labeling.annotation'),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='project',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='labeling.project'),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='task',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to='labeling.task'),
        ),
        migrations.AlterField(
            model_name='taskparticipation',
            name='task',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participations', to='labeling.task'),
        ),
        migrations.AlterField(
            model_name='taskparticipation',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='annotation',
            index=models.Index(condition=models.Q(('corrects__isnull', False)), fields=['corrects'], name='labeling_ann_corrects'),
        ),
    ]

"""Projects of a purpose (work, training, test) tied to a skill check, and the answers of check attempts."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0020_drop_queue_sql_functions'),
        ('workforce', '0005_skill_checks'),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='purpose',
            field=models.CharField(choices=[('work', 'Work (served by the queue)'), ('training', 'Training module (items with answers, served by its attempts)'), ('test', 'Qualification test (items with answer keys, served by its attempts)')], default='work', max_length=10),
        ),
        migrations.AddField(
            model_name='project',
            name='skill_check',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='project', to='workforce.skillcheck'),
        ),
        migrations.CreateModel(
            name='CheckAnswer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('result', models.JSONField()),
                ('score', models.FloatField(help_text='0..1, by the same scorer as gold tasks.')),
                ('detail', models.JSONField(blank=True, default=dict)),
                ('answered_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('active_seconds', models.PositiveIntegerField(default=0)),
                ('attempt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='answers', to='workforce.checkattempt')),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='labeling.task')),
            ],
            options={
                'ordering': ['attempt', 'answered_at', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('attempt', 'task'), name='labeling_checkanswer_once_per_item'), models.CheckConstraint(condition=models.Q(('score__gte', 0), ('score__lte', 1)), name='labeling_checkanswer_score_0_to_1')],
            },
        ),
    ]

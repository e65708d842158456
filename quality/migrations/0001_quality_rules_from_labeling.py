"""The quality rule, action and appeal models, moved from labeling with their tables.

State only: the tables, constraints and indexes labeling migration 0007 created stay as they are
(`db_table` keeps their names), so no row moves and reversing this changes no table either.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('labeling', '0018_quality_rules_leave_labeling_state'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='QualityRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=150)),
                        ('description', models.TextField(blank=True)),
                        ('metric', models.CharField(choices=[('gold_accuracy', 'Gold accuracy'), ('review_pass_rate', 'Review pass rate'), ('agreement', 'Agreement with the aggregate'), ('fast_answer_rate', 'Fast-answer rate'), ('skip_streak', 'Skip streak'), ('submissions_24h', 'Submissions in 24 hours')], max_length=30)),
                        ('window_kind', models.CharField(choices=[('items', 'Last N items'), ('days', 'Last D days')], max_length=10)),
                        ('window_size', models.PositiveIntegerField(help_text='N items or D days.')),
                        ('min_sample', models.PositiveIntegerField(help_text='Fewer items than this in the window: the rule does not judge.')),
                        ('comparator', models.CharField(choices=[('lt', '<'), ('lte', '≤'), ('gt', '>'), ('gte', '≥')], max_length=3)),
                        ('threshold', models.FloatField()),
                        ('fast_answer_seconds', models.PositiveIntegerField(blank=True, help_text='Fast-answer rate: answers quicker than this count.', null=True)),
                        ('action', models.CharField(choices=[('notify', 'Notify'), ('raise_gold_rate', 'Raise the gold rate'), ('require_retraining', 'Require retraining'), ('remove_skill_level', 'Remove the skill level'), ('suspend_project', 'Suspend from the project'), ('suspend_everywhere', 'Suspend everywhere')], max_length=30)),
                        ('gold_rate', models.FloatField(blank=True, help_text="Raise the gold rate: the person's gold share (0..1].", null=True)),
                        ('duration_hours', models.PositiveIntegerField(blank=True, help_text='Empty: until a manager lifts it.', null=True)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(blank=True, help_text='Empty: a global rule over every project.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='quality_rules', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'labeling_qualityrule',
                    },
                ),
                migrations.CreateModel(
                    name='RuleAction',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('notify', 'Notify'), ('raise_gold_rate', 'Raise the gold rate'), ('require_retraining', 'Require retraining'), ('remove_skill_level', 'Remove the skill level'), ('suspend_project', 'Suspend from the project'), ('suspend_everywhere', 'Suspend everywhere')], max_length=30)),
                        ('state', models.CharField(choices=[('active', 'Active'), ('upheld', 'Upheld on appeal'), ('expired', 'Expired'), ('reversed', 'Reversed')], default='active', max_length=10)),
                        ('metric_value', models.FloatField()),
                        ('sample_size', models.PositiveIntegerField()),
                        ('item_ids', models.JSONField(default=list, help_text='The items the value was computed from.')),
                        ('evidence', models.JSONField(default=dict, help_text='The rule as it was when it fired, and the work discounted.')),
                        ('taken', models.JSONField(default=list, help_text='What was taken, to restore it.')),
                        ('taken_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('expires_at', models.DateTimeField(blank=True, help_text='Empty: until a manager lifts it.', null=True)),
                        ('ended_at', models.DateTimeField(blank=True, null=True)),
                        ('end_note', models.TextField(blank=True)),
                        ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(blank=True, help_text="The rule's project; empty for a global rule.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='labeling.project')),
                        ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='actions', to='quality.qualityrule')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'labeling_ruleaction',
                    },
                ),
                migrations.CreateModel(
                    name='Appeal',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reason', models.TextField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('upheld', 'Upheld: the action was reversed'), ('rejected', 'Rejected: the action stands')], default='pending', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('decision_note', models.TextField(blank=True)),
                        ('author', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('action', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='appeal', to='quality.ruleaction')),
                    ],
                    options={
                        'db_table': 'labeling_appeal',
                    },
                ),
                migrations.AddIndex(
                    model_name='qualityrule',
                    index=models.Index(fields=['is_active', 'project'], name='labeling_rule_active'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(('window_size__gte', 1)), name='labeling_rule_window_min_1'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(('min_sample__gte', 1)), name='labeling_rule_min_sample_min_1'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('metric', 'fast_answer_rate'), _negated=True), ('fast_answer_seconds__gte', 1), _connector='OR'), name='labeling_rule_fast_answer_has_seconds'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('action', 'raise_gold_rate'), _negated=True), models.Q(('gold_rate__gt', 0), ('gold_rate__lte', 1)), _connector='OR'), name='labeling_rule_gold_rate_range'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('action', 'remove_skill_level'), _negated=True), ('project__isnull', False), _connector='OR'), name='labeling_rule_skill_removal_needs_project'),
                ),
                migrations.AddConstraint(
                    model_name='qualityrule',
                    constraint=models.CheckConstraint(condition=models.Q(('duration_hours__isnull', True), ('duration_hours__gte', 1), _connector='OR'), name='labeling_rule_duration_min_1h'),
                ),
                migrations.AddIndex(
                    model_name='ruleaction',
                    index=models.Index(fields=['user', '-taken_at'], name='labeling_ruleaction_by_user'),
                ),
                migrations.AddIndex(
                    model_name='ruleaction',
                    index=models.Index(fields=['state', '-taken_at'], name='labeling_ruleaction_by_state'),
                ),
                migrations.AddIndex(
                    model_name='ruleaction',
                    index=models.Index(condition=models.Q(('expires_at__isnull', False), ('state__in', ['active', 'upheld'])), fields=['expires_at'], name='labeling_ruleaction_expiry'),
                ),
                migrations.AddConstraint(
                    model_name='ruleaction',
                    constraint=models.UniqueConstraint(condition=models.Q(('state__in', ['active', 'upheld'])), fields=('rule', 'user'), name='labeling_ruleaction_one_in_effect'),
                ),
                migrations.AddIndex(
                    model_name='appeal',
                    index=models.Index(fields=['status', 'created_at'], name='labeling_appeal_by_status'),
                ),
                migrations.AddConstraint(
                    model_name='appeal',
                    constraint=models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='labeling_appeal_has_reason'),
                ),
            ],
            database_operations=[],
        ),
    ]

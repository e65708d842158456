# The consensus model's metrics as rule conditions: spammer score, agreement with the confident
# consensus, chance-corrected gold accuracy upper bound (choices only; reversible).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('quality', '0002_content_types_from_labeling'),
    ]

    operations = [
        migrations.AlterField(
            model_name='qualityrule',
            name='metric',
            field=models.CharField(choices=[('gold_accuracy', 'Gold accuracy'), ('review_pass_rate', 'Review pass rate'), ('agreement', 'Agreement with the aggregate'), ('fast_answer_rate', 'Fast-answer rate'), ('skip_streak', 'Skip streak'), ('submissions_24h', 'Submissions in 24 hours'), ('spammer_score', "Spammer score (from the person's confusion matrix)"), ('consensus_agreement', 'Agreement with the confident consensus'), ('gold_accuracy_upper', 'Gold accuracy above chance, upper bound')], max_length=30),
        ),
    ]

"""Portal pages of quality (namespace "quality"): each project's Quality page, and the quality
rules with their dry runs, actions and appeals under /quality/. The paths are those the pages had
when they were labeling's (people keep bookmarks)."""

from django.urls import URLPattern, URLResolver, path

from quality import report_views
from quality import views as rules_views

app_name = "quality"

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<id:project_id>/quality/", report_views.project_quality, name="project_quality"),
    path(
        "projects/<id:project_id>/quality/confusions/",
        report_views.confusions_refresh,
        name="confusions_refresh",
    ),
    path("quality/rules/", rules_views.rule_list, name="rule_list"),
    path("quality/rules/new/", rules_views.rule_create, name="rule_create"),
    path("quality/rules/<id:rule_id>/edit/", rules_views.rule_edit, name="rule_edit"),
    path(
        "quality/rules/<id:rule_id>/deactivate/",
        rules_views.rule_deactivate,
        name="rule_deactivate",
    ),
    path("quality/rules/<id:rule_id>/dry-run/", rules_views.rule_dry_run, name="rule_dry_run"),
    path("quality/actions/", rules_views.action_list, name="action_list"),
    path("quality/actions/<id:action_id>/", rules_views.action_detail, name="action_detail"),
    path("quality/actions/<id:action_id>/appeal/", rules_views.action_appeal, name="action_appeal"),
    path("quality/actions/<id:action_id>/lift/", rules_views.action_lift, name="action_lift"),
    path("quality/mine/", rules_views.my_actions, name="my_actions"),
    path("quality/appeals/", rules_views.appeal_list, name="appeal_list"),
    path("quality/appeals/<id:appeal_id>/decide/", rules_views.appeal_decide, name="appeal_decide"),
]

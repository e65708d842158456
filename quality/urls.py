"""Portal pages of quality (namespace "quality"): each project's Quality page, and the quality
rules with their dry runs, actions and appeals under /quality/. The paths are those the pages had
when they were labeling's (people keep bookmarks)."""

from django.urls import URLPattern, URLResolver, include, path

from quality.views import actions, appeals, reports, rules

app_name = "quality"

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<id:project_id>/quality/", reports.project_quality, name="project_quality"),
    path(
        "projects/<id:project_id>/quality/confusions/",
        reports.confusions_refresh,
        name="confusions_refresh",
    ),
    path(
        "projects/<id:project_id>/quality/people-confusions/",
        reports.worker_confusions_page,
        name="worker_confusions",
    ),
    path("quality/rules/", rules.rule_list, name="rule_list"),
    path("quality/rules/new/", rules.rule_create, name="rule_create"),
    path("quality/rules/<id:rule_id>/edit/", rules.rule_edit, name="rule_edit"),
    path(
        "quality/rules/<id:rule_id>/deactivate/",
        rules.rule_deactivate,
        name="rule_deactivate",
    ),
    path("quality/rules/<id:rule_id>/dry-run/", rules.rule_dry_run, name="rule_dry_run"),
    path("quality/actions/", actions.action_list, name="action_list"),
    path("quality/actions/<id:action_id>/", actions.action_detail, name="action_detail"),
    path("quality/actions/<id:action_id>/appeal/", actions.action_appeal, name="action_appeal"),
    path("quality/actions/<id:action_id>/lift/", actions.action_lift, name="action_lift"),
    path("quality/mine/", actions.my_actions, name="my_actions"),
    path("quality/appeals/", appeals.appeal_list, name="appeal_list"),
    path("quality/appeals/<id:appeal_id>/decide/", appeals.appeal_decide, name="appeal_decide"),
    path("", include("quality.views.standing")),
    path("", include("quality.views.reaggregation")),
]

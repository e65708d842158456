"""Portal pages of the quality rules: rules, dry runs, actions and appeals (namespace "quality")."""

from django.urls import URLPattern, URLResolver, path

from labeling import rules_views

app_name = "quality"

urlpatterns: list[URLPattern | URLResolver] = [
    path("rules/", rules_views.rule_list, name="rule_list"),
    path("rules/new/", rules_views.rule_create, name="rule_create"),
    path("rules/<id:rule_id>/edit/", rules_views.rule_edit, name="rule_edit"),
    path("rules/<id:rule_id>/deactivate/", rules_views.rule_deactivate, name="rule_deactivate"),
    path("rules/<id:rule_id>/dry-run/", rules_views.rule_dry_run, name="rule_dry_run"),
    path("actions/", rules_views.action_list, name="action_list"),
    path("actions/<id:action_id>/", rules_views.action_detail, name="action_detail"),
    path("actions/<id:action_id>/appeal/", rules_views.action_appeal, name="action_appeal"),
    path("actions/<id:action_id>/lift/", rules_views.action_lift, name="action_lift"),
    path("mine/", rules_views.my_actions, name="my_actions"),
    path("appeals/", rules_views.appeal_list, name="appeal_list"),
    path("appeals/<id:appeal_id>/decide/", rules_views.appeal_decide, name="appeal_decide"),
]

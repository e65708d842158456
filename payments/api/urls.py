"""The payments API: one module per resource, each with its serializers, views and URLs."""

from django.urls import include, path

urlpatterns = [
    path("", include("payments.api.ledger")),
    path("", include("payments.api.rates")),
    path("", include("payments.api.payout_accounts")),
    path("", include("payments.api.stripe_webhooks")),
    path("", include("payments.api.earnings")),
    path("", include("payments.api.incentives")),
    path("", include("payments.api.holds")),
    path("", include("payments.api.payout_runs")),
    path("", include("payments.api.stripe_connect")),
]

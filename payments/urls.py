"""Portal pages of payments (namespace "payments")."""

from django.urls import URLPattern, URLResolver, include, path

from payments.views import ledger

app_name = "payments"

urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/ledger/", ledger.ledger_explorer, name="ledger"),
    path("finance/balances/", ledger.ledger_balances, name="balances"),
    path("", include("payments.views.rates")),
    path("", include("payments.views.payout_accounts")),
    path("", include("payments.views.stripe_events")),
    path("", include("payments.views.earnings")),
    path("", include("payments.views.incentives")),
    path("", include("payments.views.labour_cost")),
    path("", include("payments.views.holds")),
    path("", include("payments.views.payout_runs")),
    path("", include("payments.views.stripe_connect")),
]

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from accounts.health import healthz

# The admin site signs people in through the portal's sign-in (its limits, the second factor).
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # as allauth documents

api_v1: list[URLPattern | URLResolver] = [
    # Labeling first: it serves annotators' claim and submit, the most frequent calls, which the
    # hot path resolves before serving; every pattern before them is tried and fails first.
    path("", include("labeling.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("workforce.api.urls")),
    path("", include("quality.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("dashboards.api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    # The API first: its calls are the most frequent, and resolving them should not walk the portal.
    path("api/v1/", include(api_v1)),
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("workforce.urls")),
    path("", include("labeling.urls")),
    path("", include("labeling.work_urls")),
    path("", include("quality.urls")),
    path("", include("payments.urls")),
    path("", include("dashboards.urls")),
    path("django-admin/", admin.site.urls),
]

# Errors raised outside DRF's views (middleware, unknown URLs, the queue's hot path) keep the
# API's {"code", "message", "extra"} shape under /api/ and Django's pages elsewhere.
handler400 = "core.api.handlers.bad_request"
handler403 = "core.api.handlers.permission_denied"
handler404 = "core.api.handlers.page_not_found"
handler500 = "core.api.handlers.server_error"

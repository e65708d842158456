"""API: Stripe Connect (wired into payments/api/urls.py).

A person starts or continues their set-up on Stripe under `me/stripe-connect/` (the answer holds
the URL of Stripe's hosted onboarding to send them to), asks for a new onboarding link, and has
their account re-fetched from Stripe. Finance lists every connected account's state
(`stripe-connected-accounts/`); nobody else sees anyone's. Nothing here is a finance write.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.api.routers import Router
from payments.models import StripeConnectedAccount
from payments.models.stripe_connect import stripe_accounts_ready
from payments.selectors.stripe_connect import stripe_connected_account_of
from payments.services.stripe_connect import (
    stripe_connect_onboarding_link,
    stripe_connect_start,
    stripe_connected_account_refresh,
)

TAGS = ["stripe connect"]


class StripeConnectedAccountSerializer(serializers.ModelSerializer[StripeConnectedAccount]):
    person = serializers.IntegerField(source="user_id", read_only=True)
    can_receive_transfers = serializers.BooleanField(
        read_only=True,
        help_text="Payouts enabled and the transfers capability active: Quorum can pay it.",
    )
    currently_due = serializers.ListField(child=serializers.CharField(), read_only=True)
    past_due = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = StripeConnectedAccount
        fields = [
            "id",
            "person",
            "stripe_account",
            "country",
            "currency",
            "payouts_enabled",
            "details_submitted",
            "transfers_status",
            "can_receive_transfers",
            "currently_due",
            "past_due",
            "disabled_reason",
            "is_deleted",
            "synced_at",
            "created_at",
        ]
        read_only_fields = fields


class StripeConnectStartSerializer(serializers.Serializer[Any]):
    country = serializers.CharField(max_length=2, help_text="ISO 3166 code of your country.")
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code you are paid in.")


class StripeConnectStartedSerializer(StripeConnectedAccountSerializer):
    onboarding_url = serializers.URLField(
        read_only=True, help_text="Stripe's hosted onboarding: send the person there."
    )

    class Meta(StripeConnectedAccountSerializer.Meta):
        fields = [*StripeConnectedAccountSerializer.Meta.fields, "onboarding_url"]
        read_only_fields = fields


class OnboardingLinkSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(read_only=True)


def _own(request: Request) -> StripeConnectedAccount:
    row = stripe_connected_account_of(request_user(request))
    if row is None:
        raise Http404("You have no Stripe account.")
    return row


class OwnStripeConnectView(APIView):
    """The caller's Stripe connected account; POST starts (or continues) the set-up."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PROFILE_EDIT_OWN

    @extend_schema(
        tags=TAGS,
        responses={
            200: StripeConnectedAccountSerializer,
            404: OpenApiResponse(description="You have no Stripe account."),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(StripeConnectedAccountSerializer(_own(request)).data)

    @extend_schema(
        tags=TAGS,
        request=StripeConnectStartSerializer,
        responses={
            201: StripeConnectStartedSerializer,
            400: OpenApiResponse(
                description="Stripe is not offered in the country, or a bad currency."
            ),
            502: OpenApiResponse(description="Stripe refused or did not answer."),
        },
        description="Create your Express connected account at Stripe (once; later calls reuse it) "
        "and get a link to Stripe's hosted onboarding.",
    )
    def post(self, request: Request) -> Response:
        data = StripeConnectStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        row = stripe_connect_start(user=user, **data.validated_data)
        url = stripe_connect_onboarding_link(user=user)
        body = {**StripeConnectedAccountSerializer(row).data, "onboarding_url": url}
        return Response(body, status=status.HTTP_201_CREATED)


class OwnStripeConnectLinkView(APIView):
    """A new link to Stripe's hosted onboarding of the caller's account."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PROFILE_EDIT_OWN

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: OnboardingLinkSerializer,
            404: OpenApiResponse(description="You have no Stripe account."),
        },
    )
    def post(self, request: Request) -> Response:
        return Response({"url": stripe_connect_onboarding_link(user=request_user(request))})


class OwnStripeConnectRefreshView(APIView):
    """Re-fetch the caller's account from Stripe and return it as stored."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PROFILE_EDIT_OWN

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: StripeConnectedAccountSerializer,
            404: OpenApiResponse(description="You have no Stripe account."),
        },
    )
    def post(self, request: Request) -> Response:
        row = stripe_connected_account_refresh(user=request_user(request))
        return Response(StripeConnectedAccountSerializer(row).data)


class StripeConnectedAccountFilter(FilterSet):
    can_receive_transfers = django_filters.BooleanFilter(method="filter_ready")

    class Meta:
        model = StripeConnectedAccount
        fields = ["can_receive_transfers", "payouts_enabled", "transfers_status", "country"]

    def filter_ready(
        self, queryset: QuerySet[StripeConnectedAccount], name: str, value: bool
    ) -> QuerySet[StripeConnectedAccount]:
        ready = stripe_accounts_ready()
        return queryset.filter(ready) if value else queryset.exclude(ready)


@extend_schema(tags=TAGS)
class StripeConnectedAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[StripeConnectedAccount],
):
    """Every person's Stripe connected account as last fetched from Stripe (finance only)."""

    serializer_class = StripeConnectedAccountSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PAYOUT_ACCOUNTS_VIEW
    filterset_class = StripeConnectedAccountFilter
    queryset = StripeConnectedAccount.objects.order_by("pk")


router = Router()
router.register(
    "stripe-connected-accounts", StripeConnectedAccountViewSet, basename="stripe-connected-account"
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/stripe-connect/", OwnStripeConnectView.as_view(), name="my-stripe-connect"),
    path(
        "me/stripe-connect/link/",
        OwnStripeConnectLinkView.as_view(),
        name="my-stripe-connect-link",
    ),
    path(
        "me/stripe-connect/refresh/",
        OwnStripeConnectRefreshView.as_view(),
        name="my-stripe-connect-refresh",
    ),
    *router.urls,
]

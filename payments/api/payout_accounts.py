"""API: payout accounts, masked (wired into payments/api/urls.py).

A person reads their own account under `me/payout-account/` and enters new bank details there
(the answer is masked: full details are never returned once saved); they confirm with the token
of the e-mailed link. Finance lists every account (`payout-accounts/`, masked; anyone else sees
only their own there, and another person's answers 404) and chooses the providers offered per
country (`payout-providers/`). Finance writes need MFA, as every finance request does.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
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
from payments.models import (
    PayoutAccount,
    PayoutAccountStatus,
    PayoutCountryProviders,
    PayoutProvider,
)
from payments.policy import payout_accounts_visible_to
from payments.selectors.payout_accounts import (
    payout_account_ready,
    payout_account_status_at,
    payout_accounts_in_status_at,
    payout_country_providers_list,
    payout_providers_default,
)
from payments.services.payout_accounts import (
    bank_details_cancel,
    bank_details_confirm,
    bank_details_submit,
    payout_country_providers_reset,
    payout_country_providers_set,
)

TAGS = ["payout accounts"]
MASKED_HELP = "The details in use, masked to their last four characters, e.g. 'IBAN •••• 3000'."


class PayoutAccountSerializer(serializers.ModelSerializer[PayoutAccount]):
    person = serializers.IntegerField(source="user_id", read_only=True)
    status_now = serializers.SerializerMethodField(
        help_text="The status at the time of the request: a cooling-off period that ended is 'ready'."
    )
    details = serializers.CharField(
        source="masked_current", read_only=True, allow_null=True, help_text=MASKED_HELP
    )
    pending_details = serializers.CharField(
        source="masked_pending",
        read_only=True,
        allow_null=True,
        help_text="New details waiting for e-mail confirmation, masked; null if none.",
    )
    country = serializers.CharField(read_only=True)

    class Meta:
        model = PayoutAccount
        fields = [
            "id",
            "person",
            "provider",
            "status",
            "status_now",
            "country",
            "currency",
            "details",
            "pending_details",
            "confirmed_at",
            "usable_from",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PayoutAccountStatus.choices))
    def get_status_now(self, account: PayoutAccount) -> str:
        return payout_account_status_at(account, timezone.now())


class OwnPayoutAccountSerializer(PayoutAccountSerializer):
    can_be_paid_now = serializers.SerializerMethodField()
    why_not = serializers.SerializerMethodField(
        help_text="Why no payout may be made now (e.g. the end of the cooling-off period)."
    )

    class Meta(PayoutAccountSerializer.Meta):
        fields = [*PayoutAccountSerializer.Meta.fields, "can_be_paid_now", "why_not"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_can_be_paid_now(self, account: PayoutAccount) -> bool:
        return payout_account_ready(account.user).ready

    @extend_schema_field(serializers.CharField())
    def get_why_not(self, account: PayoutAccount) -> str:
        return payout_account_ready(account.user).reason


def _detail(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=50, write_only=True, help_text=help_text
    )


class BankDetailsInputSerializer(serializers.Serializer[Any]):
    """New bank details; which fields apply depends on `country` (see docs/payouts-accounts.md)."""

    country = serializers.CharField(max_length=2, help_text="ISO 3166 code of the bank's country.")
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code you are paid in.")
    holder_name = serializers.CharField(max_length=140, help_text="As your bank knows it.")
    iban = _detail("IBAN countries.")
    bic = _detail("Countries without IBANs (optional with an IBAN).")
    routing_number = _detail("United States: the ABA routing number.")
    sort_code = _detail("United Kingdom: 6 digits.")
    account_number = _detail("US, UK and countries without IBANs.")

    DETAIL_FIELDS = ("holder_name", "iban", "bic", "routing_number", "sort_code", "account_number")


class PayoutConfirmSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=500, help_text="The token of the e-mailed link.")


def _own_account(request: Request) -> PayoutAccount:
    user = request_user(request)
    account = payout_accounts_visible_to(user).filter(user_id=user.pk).first()
    if account is None:
        raise Http404("You have no payout account.")
    return account


# Error reports (e.g. the admins' e-mail of a 500) must not carry bank details.
@method_decorator(
    sensitive_post_parameters(*BankDetailsInputSerializer.DETAIL_FIELDS), name="dispatch"
)
class OwnPayoutAccountView(APIView):
    """The caller's payout account (masked), and entering new bank details."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PROFILE_EDIT_OWN

    @extend_schema(
        tags=TAGS,
        responses={
            200: OwnPayoutAccountSerializer,
            404: OpenApiResponse(description="You have no payout account yet."),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(OwnPayoutAccountSerializer(_own_account(request)).data)

    @extend_schema(
        tags=TAGS,
        request=BankDetailsInputSerializer,
        responses={201: OwnPayoutAccountSerializer},
        description="Store new bank details (encrypted) and e-mail a confirmation link. They are "
        "used only after confirmation and the cooling-off period. The answer is masked.",
    )
    def post(self, request: Request) -> Response:
        data = BankDetailsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request_user(request)
        bank_details_submit(
            user=user,
            actor=user,
            country=values["country"],
            currency=values["currency"],
            details={
                name: values.get(name, "") for name in BankDetailsInputSerializer.DETAIL_FIELDS
            },
        )
        return Response(
            OwnPayoutAccountSerializer(_own_account(request)).data, status=status.HTTP_201_CREATED
        )


class OwnPayoutAccountConfirmView(APIView):
    """Confirm new bank details with the token of the e-mailed link (yours only)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(
        tags=TAGS,
        request=PayoutConfirmSerializer,
        responses={
            200: OwnPayoutAccountSerializer,
            404: OpenApiResponse(description="The link is of someone else's details."),
        },
    )
    def post(self, request: Request) -> Response:
        data = PayoutConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bank_details_confirm(user=request_user(request), token=data.validated_data["token"])
        return Response(OwnPayoutAccountSerializer(_own_account(request)).data)


class OwnPayoutAccountCancelView(APIView):
    """Withdraw the change of bank details waiting for confirmation."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PROFILE_EDIT_OWN

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: OwnPayoutAccountSerializer,
            404: OpenApiResponse(description="You have no payout account."),
            409: OpenApiResponse(description="No change waits for confirmation."),
        },
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        bank_details_cancel(user=user, actor=user)
        return Response(OwnPayoutAccountSerializer(_own_account(request)).data)


class PayoutAccountFilter(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=PayoutAccountStatus.choices,
        method="filter_status",
        help_text="The status now: an account whose cooling-off period ended is 'ready'.",
    )
    provider = django_filters.ChoiceFilter(choices=PayoutProvider.choices)
    country = django_filters.CharFilter(max_length=2, method="filter_country")

    class Meta:
        model = PayoutAccount
        fields = ["status", "provider", "country"]

    def filter_status(
        self, queryset: QuerySet[PayoutAccount], name: str, value: str
    ) -> QuerySet[PayoutAccount]:
        return payout_accounts_in_status_at(queryset, value, timezone.now())

    def filter_country(
        self, queryset: QuerySet[PayoutAccount], name: str, value: str
    ) -> QuerySet[PayoutAccount]:
        return queryset.filter(country=value.upper())


@extend_schema(tags=TAGS)
class PayoutAccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[PayoutAccount]
):
    """Payout accounts, details masked: finance sees everyone's; anyone else only their own."""

    serializer_class = PayoutAccountSerializer
    permission_classes = BASE_PERMISSIONS
    filterset_class = PayoutAccountFilter
    queryset = PayoutAccount.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self) -> QuerySet[PayoutAccount]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return payout_accounts_visible_to(self.request.user)


class CountryProvidersSerializer(serializers.ModelSerializer[PayoutCountryProviders]):
    country = serializers.CharField(read_only=True)
    providers = serializers.ListField(
        child=serializers.ChoiceField(choices=PayoutProvider.choices),
        help_text="Providers offered to people whose bank is in this country (may be empty).",
    )
    updated_by = serializers.IntegerField(source="updated_by_id", read_only=True, allow_null=True)

    class Meta:
        model = PayoutCountryProviders
        fields = ["country", "providers", "updated_by", "updated_at"]
        read_only_fields = ["country", "updated_by", "updated_at"]


class DefaultProvidersSerializer(serializers.Serializer[Any]):
    providers = serializers.ListField(child=serializers.CharField())


@extend_schema(tags=TAGS)
class PayoutCountryProvidersViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[PayoutCountryProviders],
):
    """The providers finance offers per country; a country not listed offers the default
    (`payout-providers/default/`). PUT a country to choose, DELETE it to return to the default."""

    serializer_class = CountryProvidersSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PAYOUT_PROVIDERS_MANAGE
    lookup_field = "country"
    lookup_value_converter = "slug"

    def get_queryset(self) -> QuerySet[PayoutCountryProviders]:
        return payout_country_providers_list()

    def get_object(self) -> PayoutCountryProviders:
        country = str(self.kwargs["country"]).upper()
        row = self.get_queryset().filter(country=country).first()
        if row is None:
            raise Http404("This country offers the default providers.")
        return row

    @extend_schema(request=CountryProvidersSerializer, responses=CountryProvidersSerializer)
    def update(self, request: Request, country: str) -> Response:
        data = CountryProvidersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = payout_country_providers_set(
            country=country, providers=data.validated_data["providers"], actor=request_user(request)
        )
        return Response(CountryProvidersSerializer(row).data)

    @extend_schema(
        responses={
            204: None,
            404: OpenApiResponse(description="The country offers the default providers already."),
        }
    )
    def destroy(self, request: Request, country: str) -> Response:
        if not payout_country_providers_reset(country=country, actor=request_user(request)):
            raise Http404("This country offers the default providers already.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class DefaultProvidersView(APIView):
    """The providers of every country finance has not chosen for (PAYOUT_DEFAULT_PROVIDERS)."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PAYOUT_PROVIDERS_MANAGE

    @extend_schema(tags=TAGS, responses=DefaultProvidersSerializer)
    def get(self, request: Request) -> Response:
        return Response({"providers": payout_providers_default()})


router = Router()
router.register("payout-accounts", PayoutAccountViewSet, basename="payout-account")
router.register("payout-providers", PayoutCountryProvidersViewSet, basename="payout-providers")

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/payout-account/", OwnPayoutAccountView.as_view(), name="my-payout-account"),
    path(
        "me/payout-account/confirm/",
        OwnPayoutAccountConfirmView.as_view(),
        name="my-payout-account-confirm",
    ),
    path(
        "me/payout-account/cancel/",
        OwnPayoutAccountCancelView.as_view(),
        name="my-payout-account-cancel",
    ),
    path(
        "payout-providers/default/", DefaultProvidersView.as_view(), name="payout-providers-default"
    ),
    *router.urls,
]

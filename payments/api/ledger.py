"""The ledger, read-only: finance explores transactions with their entries and every account's
balance; a person reads their own balances under `me/balances/` (another person's is not found).
Nothing here edits or deletes a ledger row: corrections are reversals, made by services."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from kit.money import Micros, format_micros
from payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from payments.policy import ledger_accounts_visible_to, ledger_transactions_visible_to

TAGS = ["ledger"]
MICROS_HELP = "Micro-units (1e-6 of a major unit) of the currency; an integer, never a float."


class LedgerAccountSerializer(serializers.ModelSerializer[LedgerAccount]):
    person = serializers.IntegerField(
        source="user_id", read_only=True, allow_null=True, help_text="The person's user id."
    )
    balance_micros = serializers.IntegerField(
        source="current_micros", read_only=True, help_text=MICROS_HELP
    )
    balance_display = serializers.SerializerMethodField(
        help_text="The balance for people to read, e.g. '12.3456 USD'."
    )

    class Meta:
        model = LedgerAccount
        fields = [
            "id",
            "key",
            "kind",
            "currency",
            "person",
            "project",
            "customer",
            "balance_micros",
            "balance_display",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_balance_display(self, account: LedgerAccount) -> str:
        return format_micros(Micros(account.current_micros, account.currency))  # type: ignore[attr-defined]  # annotated by the selector


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    account_key = serializers.CharField(source="account.key", read_only=True)
    currency = serializers.CharField(source="account.currency", read_only=True)
    amount_micros = serializers.IntegerField(
        read_only=True, help_text=f"Credit when positive, debit when negative. {MICROS_HELP}"
    )
    amount_display = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = ["id", "account", "account_key", "currency", "amount_micros", "amount_display"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_amount_display(self, entry: LedgerEntry) -> str:
        return format_micros(Micros(entry.amount_micros, entry.account.currency))


class LedgerTransactionSerializer(serializers.ModelSerializer[LedgerTransaction]):
    entries = LedgerEntrySerializer(many=True, read_only=True)
    reversed_by = serializers.SerializerMethodField(
        help_text="The id of the transaction that reverses this one, if any."
    )

    class Meta:
        model = LedgerTransaction
        fields = [
            "id",
            "source_key",
            "memo",
            "posted_at",
            "actor",
            "reverses",
            "reason",
            "reversed_by",
            "entries",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_reversed_by(self, posted: LedgerTransaction) -> int | None:
        reversal = getattr(posted, "reversed_by", None)
        return reversal.pk if reversal is not None else None


class LedgerTransactionFilter(FilterSet):
    person = IdFilter(
        field_name="entries__account__user", help_text="Transactions touching this person."
    )
    account = IdFilter(field_name="entries__account", help_text="Transactions on this account.")
    source = django_filters.CharFilter(
        field_name="source_key",
        lookup_expr="startswith",
        max_length=200,
        help_text="Source keys starting with this text (e.g. 'annotation:').",
    )

    class Meta:
        model = LedgerTransaction
        fields = ["person", "account", "source"]

    def filter_queryset(self, queryset: QuerySet[LedgerTransaction]) -> QuerySet[LedgerTransaction]:
        # Filtering through entries joins them: one transaction per row still.
        return super().filter_queryset(queryset).distinct()


@extend_schema(tags=TAGS)
class LedgerTransactionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[LedgerTransaction]
):
    """Ledger transactions with their entries, newest first (finance only)."""

    serializer_class = LedgerTransactionSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.LEDGER_VIEW
    filterset_class = LedgerTransactionFilter

    def get_queryset(self) -> QuerySet[LedgerTransaction]:
        return ledger_transactions_visible_to(self.request.user).order_by("-pk")


class LedgerAccountFilter(FilterSet):
    person = IdFilter(field_name="user", help_text="Accounts of this person.")
    kind = django_filters.ChoiceFilter(choices=AccountKind.choices)
    currency = django_filters.CharFilter(max_length=3)

    class Meta:
        model = LedgerAccount
        fields = ["person", "kind", "currency"]


@extend_schema(tags=TAGS)
class LedgerBalanceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[LedgerAccount]
):
    """Every ledger account with its balance now (finance only)."""

    serializer_class = LedgerAccountSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.LEDGER_VIEW
    filterset_class = LedgerAccountFilter

    def get_queryset(self) -> QuerySet[LedgerAccount]:
        return ledger_accounts_visible_to(self.request.user)


@extend_schema(tags=TAGS)
class MyBalanceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[LedgerAccount]
):
    """The signed-in person's own accounts (pending, payable, in transit, paid) and balances."""

    serializer_class = LedgerAccountSerializer
    permission_classes = BASE_PERMISSIONS
    queryset = LedgerAccount.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self) -> QuerySet[LedgerAccount]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        user = request_user(self.request)
        return ledger_accounts_visible_to(user).filter(user_id=user.pk)


router = Router()
router.register("ledger/transactions", LedgerTransactionViewSet, basename="ledger-transaction")
router.register("ledger/balances", LedgerBalanceViewSet, basename="ledger-balance")
router.register("me/balances", MyBalanceViewSet, basename="my-balance")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]

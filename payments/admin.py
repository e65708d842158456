"""Read-only inspection of payout accounts for operators: details appear masked, never decrypted;
every change goes through the portal or API (services keep the history and the audit)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payments.models import BankDetails, PayoutAccount, PayoutAccountEvent, PayoutCountryProviders


class InspectOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BankDetailsInline(admin.TabularInline):
    model = BankDetails
    # The ciphertext is not shown either: nothing in the admin can lead to the details.
    fields = ("state", "scheme", "country", "currency", "masked", "submitted_at", "confirmed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PayoutAccount)
class PayoutAccountAdmin(InspectOnly):
    list_display = ["user", "provider", "status", "country", "currency", "usable_from"]
    list_filter = ["provider", "status"]
    search_fields = ["user__email"]
    inlines = [BankDetailsInline]


@admin.register(BankDetails)
class BankDetailsAdmin(InspectOnly):
    list_display = ["masked", "account", "state", "scheme", "country", "submitted_at"]
    list_filter = ["state", "scheme"]
    fields = ("account", "state", "scheme", "country", "currency", "masked", "submitted_at")
    readonly_fields = fields


@admin.register(PayoutAccountEvent)
class PayoutAccountEventAdmin(InspectOnly):
    list_display = ["account", "kind", "masked_before", "masked_after", "actor", "created_at"]
    list_filter = ["kind"]


@admin.register(PayoutCountryProviders)
class PayoutCountryProvidersAdmin(InspectOnly):
    list_display = ["country", "providers", "updated_by", "updated_at"]

"""Payments' models, one module per topic: the ledger (ledger.py); rate cards, payout accounts and
payout runs each add a module of their own and export their models here; Stripe's webhook
events are in stripe_events.py."""

from payments.models.earnings import Earning, EarningRemainder, EarningStatus
from payments.models.holds import Hold, HoldCause, HoldResolution, TaskDispute
from payments.models.ledger import (
    CUSTOMER_KINDS,
    PERSON_KINDS,
    PLATFORM_KINDS,
    PROJECT_KINDS,
    WHOLE_MINOR_KINDS,
    AccountKind,
    AppendOnlyError,
    AppendOnlyModel,
    AppendOnlyQuerySet,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from payments.models.payout_accounts import (
    BankDetails,
    BankDetailsState,
    BankScheme,
    PayoutAccount,
    PayoutAccountEvent,
    PayoutAccountEventKind,
    PayoutAccountStatus,
    PayoutCountryProviders,
    PayoutProvider,
)
from payments.models.rates import (
    MAX_SKILL_LEVEL,
    Rate,
    RateCard,
    RateCardVersion,
    RateImmutableError,
    RateUnit,
    WorkKind,
)
from payments.models.stripe_connect import StripeConnectedAccount, TransfersCapability
from payments.models.stripe_events import StripeEvent, StripeEventStatus

__all__ = [
    "CUSTOMER_KINDS",
    "MAX_SKILL_LEVEL",
    "PERSON_KINDS",
    "PLATFORM_KINDS",
    "PROJECT_KINDS",
    "WHOLE_MINOR_KINDS",
    "AccountKind",
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "BankDetails",
    "BankDetailsState",
    "BankScheme",
    "Earning",
    "EarningRemainder",
    "EarningStatus",
    "Hold",
    "HoldCause",
    "HoldResolution",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "PayoutAccount",
    "PayoutAccountEvent",
    "PayoutAccountEventKind",
    "PayoutAccountStatus",
    "PayoutCountryProviders",
    "PayoutProvider",
    "Rate",
    "RateCard",
    "RateCardVersion",
    "RateImmutableError",
    "RateUnit",
    "StripeConnectedAccount",
    "StripeEvent",
    "StripeEventStatus",
    "TaskDispute",
    "TransfersCapability",
    "WorkKind",
]

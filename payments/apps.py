from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments import checks, earnings_personal_data, personal_data
        from payments.selectors.payout_accounts import payout_account_is_confirmed
        from payments.services import stripe_connect
        from workforce.services.onboarding import OnboardingStep, onboarding_step_register

        checks.register()
        personal_data.register()
        stripe_connect.register()  # the account.updated webhook handler
        _connect_work_events()
        earnings_personal_data.register()
        # The last step before probation: a confirmed payout account (the cooling-off period
        # after confirmation holds payouts back, not onboarding).
        onboarding_step_register(
            OnboardingStep(
                name="payout_account_ready",
                label="Add a payout account",
                state_label="Payout account ready",
                done=payout_account_is_confirmed,
                url_name="payments:payout_account",
                help_text="Where we pay you; you confirm it from an e-mail we send.",
            )
        )
        from payments.selectors.holds import payout_holds_of
        from payments.selectors.payout_runs import payout_hold_check_register
        from payments.services.payout_runs import HANDLERS as PAYOUT_RUN_HANDLERS
        from payments.services.stripe_events import stripe_event_handler_register

        for event_type, handler in PAYOUT_RUN_HANDLERS:
            stripe_event_handler_register(event_type, handler)
        # A payout run leaves out people with held earnings, suspended or appealing (holds).
        payout_hold_check_register("earnings_holds", payout_holds_of)


def _connect_work_events() -> None:
    """Earnings follow labeling's work events, in the transaction that announced them."""
    from labeling.events import (
        check_answered,
        review_overruled,
        work_final,
        work_reversed,
        work_scored,
        work_submitted,
    )
    from payments import handlers

    work_submitted.connect(handlers.on_work_submitted, dispatch_uid="payments-earning-accrue")
    work_final.connect(handlers.on_work_final, dispatch_uid="payments-earning-finalise")
    work_scored.connect(handlers.on_work_scored, dispatch_uid="payments-earning-rejected")
    review_overruled.connect(
        handlers.on_review_overruled, dispatch_uid="payments-earning-overruled"
    )
    work_reversed.connect(handlers.on_work_reversed, dispatch_uid="payments-earning-discounted")
    check_answered.connect(handlers.on_check_answered, dispatch_uid="payments-earning-check")

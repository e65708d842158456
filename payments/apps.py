from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments import checks, personal_data
        from payments.selectors.payout_accounts import payout_account_is_confirmed
        from workforce.services.onboarding import OnboardingStep, onboarding_step_register

        checks.register()
        personal_data.register()
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
        from payments.personal_data import payout_erasure_blocker_register
        from payments.selectors.payout_runs import payout_erasure_blocker
        from payments.services.payout_runs import HANDLERS as PAYOUT_RUN_HANDLERS
        from payments.services.stripe_events import stripe_event_handler_register

        for event_type, handler in PAYOUT_RUN_HANDLERS:
            stripe_event_handler_register(event_type, handler)
        payout_erasure_blocker_register("payout_runs", payout_erasure_blocker)

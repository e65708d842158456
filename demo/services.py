"""Create the demo users and sample data; every step is idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction

from accounts.models import Role, User
from accounts.services import RoleSpec, api_token_create, user_create
from demo.calibrated_quality import demo_ties_seed
from demo.calibration import demo_calibration_seed
from demo.checks import demo_checks_seed
from demo.gaps import demo_gaps_seed
from demo.ledger import demo_ledger_seed
from demo.onboarding import demo_onboarding_seed
from demo.payout_accounts import demo_payout_accounts_seed
from demo.payout_runs import demo_payout_runs_seed
from demo.projects import demo_projects_seed
from demo.quality import demo_quality_seed
from demo.reaggregation import demo_reaggregation_seed
from demo.spam_rules import demo_spam_rules_seed
from demo.standing import demo_standing_seed
from demo.teams import demo_teams_seed
from labeling.models import Customer
from payments.demo import rates_demo_seed
from payments.incentives_demo import incentives_demo_seed
from quality.performance.rollups import rollups_rebuild
from quality.services.agreement import project_agreements_refresh
from workforce.models import AnnotatorProfile
from workforce.selectors import terms_current
from workforce.services import annotator_signup_complete, annotator_status_set

# Published on purpose: these accounts exist only in demo databases (seed_demo refuses production).
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105  (demo only, published)


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    name: str
    roles: tuple[RoleSpec, ...]
    country: str = ""
    time_zone: str = "UTC"
    languages: tuple[str, ...] = ("en",)
    status: str = "active"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.quorum", "demo-admin-pass", "Ada Admin", (RoleSpec(Role.ADMIN),)),
    DemoUser("manager@demo.quorum", "demo-manager-pass", "Mona Manager", (RoleSpec(Role.MANAGER),)),
    DemoUser("finance@demo.quorum", "demo-finance-pass", "Fin Ledger", (RoleSpec(Role.FINANCE),)),
    DemoUser(
        "reviewer@demo.quorum",
        "demo-reviewer-pass",
        "Rita Reviewer",
        (RoleSpec(Role.ANNOTATOR), RoleSpec(Role.REVIEWER, 1)),
        "KE",
        "Africa/Nairobi",
        ("en", "sw"),
    ),
    DemoUser(
        "lead@demo.quorum",
        "demo-lead-pass",
        "Leo Lead",
        (RoleSpec(Role.ANNOTATOR), RoleSpec(Role.REVIEWER, 2)),
        "DE",
        "Europe/Berlin",
        ("de", "en"),
    ),
    DemoUser(
        "annotator@demo.quorum",
        "demo-annotator-pass",
        "Ana Annotator",
        (RoleSpec(Role.ANNOTATOR),),
        "PH",
        "Asia/Manila",
        ("en", "tl"),
    ),
    DemoUser(
        "customer@demo.quorum", "demo-customer-pass", "Carl Customer", (RoleSpec(Role.CUSTOMER),)
    ),
    # A second finance user: payout runs need a second pair of eyes to approve them.
    DemoUser(
        "finance2@demo.quorum", "demo-finance2-pass", "Fay Approver", (RoleSpec(Role.FINANCE),)
    ),
)

# More of the workforce, so the People page has something to show.
EXTRA_ANNOTATORS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("noor@demo.quorum", "Noor Haddad", "JO", "Asia/Amman", ("ar", "en")),
    ("lucia@demo.quorum", "Lucía Fernández", "AR", "America/Argentina/Buenos_Aires", ("es", "en")),
    ("kwame@demo.quorum", "Kwame Mensah", "GH", "Africa/Accra", ("en",)),
    ("priya@demo.quorum", "Priya Nair", "IN", "Asia/Kolkata", ("hi", "ml", "en")),
    ("mai@demo.quorum", "Mai Nguyen", "VN", "Asia/Ho_Chi_Minh", ("vi", "en")),
)
# Two of them are still applicants, so managers see whom to activate.
APPLICANTS = {"kwame@demo.quorum", "mai@demo.quorum"}


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    recovery_codes: dict[str, list[str]] = field(default_factory=dict)
    new_tokens: dict[str, str] = field(default_factory=dict)


def _ensure_user(spec: DemoUser, report: SeedReport) -> User:
    user = User.objects.filter(email=spec.email).first()
    if user is not None:
        return user
    workforce = any(r.role in {Role.ANNOTATOR, Role.REVIEWER} for r in spec.roles)
    # Annotators get their role through the sign-up service, like everyone who signs up.
    staff_roles = [r for r in spec.roles if r.role != Role.ANNOTATOR]
    user = user_create(
        email=spec.email,
        password=spec.password,
        full_name=spec.name,
        roles=staff_roles,
        email_verified=True,
    )
    if workforce:
        terms = terms_current()
        if terms is None:
            raise RuntimeError("No terms of work are published; run migrate first.")
        annotator_signup_complete(
            user=user,
            country=spec.country,
            time_zone=spec.time_zone,
            languages=list(spec.languages),
            terms_version=terms.version,
        )
    # Sign-up put them on their onboarding journey (terms accepted); applicants stay there.
    if workforce and spec.status != "applicant":
        profile = AnnotatorProfile.objects.get(user=user)
        annotator_status_set(profile=profile, status=spec.status, actor=None, reason="demo data")
    report.created.append(spec.email)
    return user


def _ensure_mfa(user: User, report: SeedReport) -> None:
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
    codes = RecoveryCodes.activate(user)
    report.recovery_codes[user.email] = codes.get_unused_codes()[:3]


@transaction.atomic
def demo_seed() -> SeedReport:
    """Create (or keep) one user of each role plus a few annotators and a customer token."""
    report = SeedReport()
    users = {spec.email: _ensure_user(spec, report) for spec in DEMO_USERS}
    for spec in DEMO_USERS:
        if any(r.role in {Role.MANAGER, Role.FINANCE, Role.ADMIN} for r in spec.roles):
            _ensure_mfa(users[spec.email], report)
    for email, name, country, tz, languages in EXTRA_ANNOTATORS:
        _ensure_user(
            DemoUser(
                email,
                "demo-annotator-pass",
                name,
                (RoleSpec(Role.ANNOTATOR),),
                country,
                tz,
                languages,
                status="applicant" if email in APPLICANTS else "active",
            ),
            report,
        )
    report.created.extend(demo_projects_seed(customer_user=users["customer@demo.quorum"]))
    demo_customer = Customer.objects.get(slug="demo-data-co")
    # Rate cards before the demo work, so the work earns as it is done (the later call finds them).
    report.created.extend(rates_demo_seed(customer=demo_customer))
    report.created.extend(demo_checks_seed(customer=demo_customer))
    report.created.extend(demo_teams_seed(totp_secret=DEMO_TOTP_SECRET))
    everyone = {u.email: u for u in User.objects.filter(email__endswith="@demo.quorum")}
    report.created.extend(demo_quality_seed(customer=demo_customer, people=everyone))
    report.created.extend(demo_ties_seed(customer=demo_customer, people=everyone))
    report.created.extend(demo_spam_rules_seed(customer=demo_customer))
    report.created.extend(demo_standing_seed(people=everyone))
    report.created.extend(demo_gaps_seed())
    report.created.extend(demo_ledger_seed())
    report.created.extend(rates_demo_seed(customer=demo_customer))
    report.created.extend(demo_onboarding_seed())
    report.created.extend(demo_payout_accounts_seed())
    report.created.extend(demo_payout_runs_seed())
    demo_calibration_seed()  # refreshes estimates each run: nothing new to report
    demo_reaggregation_seed()  # re-aggregates with the refreshed estimates: nothing new to report
    # The hourly rollups and stored agreement the measures read (beat keeps them; `make run` has none).
    rollups_rebuild()
    project_agreements_refresh()
    report.created.extend(incentives_demo_seed(customer=demo_customer))
    customer = users["customer@demo.quorum"]
    if not customer.api_tokens.exists():
        _, key = api_token_create(user=customer, name="Demo export job", actor=customer)
        report.new_tokens[customer.email] = key
    assert AnnotatorProfile.objects.filter(user=users["annotator@demo.quorum"]).exists()  # noqa: S101
    return report

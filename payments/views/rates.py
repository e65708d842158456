"""Portal pages of rate cards (wired into payments/urls.py): the cards per customer and project,
a card's history of versions, the form that adds a version, and the preview of what a person
earns on a project today. Finance and managers read (a manager the cards of the projects they
manage); only finance adds or withdraws versions. Anyone else is refused (403)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.policy import Action, can, users_visible_to
from accounts.selectors import request_user
from core.errors import QuorumError, ValidationFailed
from core.forms import form_add_error
from kit.money import format_micros
from labeling.models import Customer, Project
from labeling.policy import projects_managed_by
from payments.models import RateCard, RateCardVersion, WorkKind
from payments.policy import rate_cards_visible_to, rate_versions_visible_to
from payments.rate_forms import (
    RatePreviewForm,
    RateRowFormSet,
    RateVersionForm,
    rate_rows_initial,
)
from payments.selectors.rates import (
    RateMatch,
    rate_lookup,
    rate_version_status,
    training_time_is_paid,
    work_profile_of,
)
from payments.services.rates import (
    RateSpec,
    rate_card_version_create,
    rate_card_version_withdraw,
)
from workforce.selectors.tiers import tier_label

CUSTOMERS_PER_PAGE = 20


def _allowed(
    action: Action,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def _finance_context(request: HttpRequest) -> dict[str, bool]:
    """What the finance navigation and the pages offer this person."""
    return {
        "can_manage": can(request.user, Action.RATES_MANAGE),
        "shows_ledger": can(request.user, Action.LEDGER_VIEW),
    }


def _projects_in_scope(request: HttpRequest) -> QuerySet[Project]:
    """Finance prices every project; a manager sees those they manage."""
    if can(request.user, Action.RATES_MANAGE):
        return Project.objects.select_related("customer")
    return projects_managed_by(request.user)


def _customers_in_scope(request: HttpRequest) -> QuerySet[Customer]:
    if can(request.user, Action.RATES_MANAGE):
        return Customer.objects.order_by("name", "pk")
    return Customer.objects.filter(
        pk__in=_projects_in_scope(request).values("customer_id")
    ).order_by("name", "pk")


@dataclass
class CardNow:
    """A card and the version of it in force now (None before its first one starts)."""

    card: RateCard
    current: RateCardVersion | None


@dataclass
class ProjectRow:
    project: Project
    own: CardNow | None
    applies: str  # "own", "default" or "none": whose rates price its work now


@dataclass
class CustomerRow:
    customer: Customer
    default: CardNow | None
    projects: list[ProjectRow]


@_allowed(Action.RATES_VIEW)
@require_GET
def rate_cards(request: HttpRequest) -> HttpResponse:
    """Every customer in scope with its default card and its projects' own cards (6 queries)."""
    page = Paginator(_customers_in_scope(request), CUSTOMERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    customers = list(page)
    cards = list(rate_cards_visible_to(request.user).filter(customer__in=customers))
    # `current_version_id` is annotated by payments.selectors.rates.rate_cards_list.
    current_ids: dict[int, int] = {
        card.pk: getattr(card, "current_version_id", None) or 0 for card in cards
    }
    current = {
        version.pk: version
        for version in rate_versions_visible_to(request.user).filter(
            pk__in=[pk for pk in current_ids.values() if pk]
        )
    }
    now_of = {card.pk: CardNow(card, current.get(current_ids[card.pk])) for card in cards}
    defaults = {c.customer_id: now_of[c.pk] for c in cards if c.project_id is None}
    own = {c.project_id: now_of[c.pk] for c in cards if c.project_id is not None}
    projects: dict[int, list[ProjectRow]] = defaultdict(list)
    for project in (
        _projects_in_scope(request).filter(customer__in=customers).order_by("name", "pk")
    ):
        own_card = own.get(project.pk)
        default = defaults.get(project.customer_id)
        applies = (
            "own"
            if own_card is not None and own_card.current is not None
            else "default"
            if default is not None and default.current is not None
            else "none"
        )
        projects[project.customer_id].append(ProjectRow(project, own_card, applies))
    rows = [
        CustomerRow(customer, defaults.get(customer.pk), projects[customer.pk])
        for customer in customers
    ]
    return render(
        request,
        "payments/rates/cards.html",
        {"page": page, "rows": rows, **_finance_context(request)},
    )


@_allowed(Action.RATES_VIEW)
@require_GET
def rate_card_history(request: HttpRequest, card_id: int) -> HttpResponse:
    """Every version of one card, newest first, with its rates, its status and its end."""
    card = get_object_or_404(rate_cards_visible_to(request.user), pk=card_id)
    now = timezone.now()
    versions = list(
        rate_versions_visible_to(request.user).filter(card=card).order_by("-effective_from", "-pk")
    )
    rows = [(version, rate_version_status(version, now=now)) for version in versions]
    return render(
        request,
        "payments/rates/history.html",
        {"card": card, "rows": rows, **_finance_context(request)},
    )


def _card_target(request: HttpRequest) -> tuple[Customer, Project | None]:
    """The customer (default card) or project (own card) the new version is for (from ?customer=
    or ?project=); a missing or unknown one is "not found"."""
    project_id = request.GET.get("project")
    if project_id:
        project = get_object_or_404(_projects_in_scope(request), pk=_id_or_404(project_id))
        return project.customer, project
    customer = get_object_or_404(
        _customers_in_scope(request), pk=_id_or_404(request.GET.get("customer"))
    )
    return customer, None


def _id_or_404(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise Http404
    return int(value)


def _show_error(form: RateVersionForm, formset: Any, rows: list[int], error: QuorumError) -> None:
    """Show a service error where it belongs: `rates.<i>.<field>` on the formset row it came from
    (`rows` maps the service's rate index to the row), the rest on the version form."""
    fields: dict[str, list[str]] = (
        error.extra.get("fields", {}) if isinstance(error, ValidationFailed) else {}
    )
    others: dict[str, list[str]] = {}
    for name, found in fields.items():
        parts = name.split(".")
        if parts[0] == "rates" and len(parts) >= 2 and parts[1].isdigit():
            row = formset.forms[rows[int(parts[1])]]
            field = parts[2] if len(parts) > 2 else ""
            field = "amount" if field == "amount_micros" else field
            for message in found:
                row.add_error(field if field in row.fields else None, message)
        else:
            others[name] = found
    if others or not fields:
        form_add_error(form, ValidationFailed(error.message, fields=others) if others else error)


@_allowed(Action.RATES_MANAGE)
@require_http_methods(["GET", "POST"])
def rate_version_new(request: HttpRequest) -> HttpResponse:
    """Add a version to a project's card or a customer's default card (finance)."""
    customer, project = _card_target(request)
    card = RateCard.objects.filter(
        Q(project=project) if project is not None else Q(customer=customer, project__isnull=True)
    ).first()
    latest = (
        rate_versions_visible_to(request.user)
        .filter(card=card, withdrawn_at__isnull=True)
        .order_by("-effective_from", "-pk")
        .first()
        if card is not None
        else None
    )
    if request.method == "POST":
        form = RateVersionForm(request.POST)
        formset = RateRowFormSet(request.POST, prefix="rates")
    else:
        currency = latest.currency if latest else settings.QUORUM_LEDGER_DEFAULT_CURRENCY
        form = RateVersionForm(initial={"currency": currency})
        initial = rate_rows_initial(latest.rates.all(), latest.currency) if latest else None
        formset = RateRowFormSet(prefix="rates", initial=initial)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        currency = form.cleaned_data["currency"]
        specs: list[RateSpec] = []
        rows: list[int] = []
        for index, row in enumerate(formset.forms):
            if row.is_blank():
                continue
            spec = row.rate_spec(currency)
            if spec is not None:
                specs.append(spec)
                rows.append(index)
        if not any(row.errors for row in formset.forms):
            try:
                version = rate_card_version_create(
                    actor=request_user(request),
                    customer=customer,
                    project=project,
                    currency=currency,
                    rates=specs,
                    effective_from=form.cleaned_data["effective_from"],
                    note=form.cleaned_data["note"],
                )
            except QuorumError as exc:
                _show_error(form, formset, rows, exc)
            else:
                messages.success(
                    request,
                    f"Version {version.number} is saved; it applies from "
                    f"{version.effective_from:%Y-%m-%d %H:%M} UTC.",
                )
                return redirect("payments:rate_card_history", card_id=version.card_id)
    return render(
        request,
        "payments/rates/version_form.html",
        {
            "form": form,
            "formset": formset,
            "customer": customer,
            "project": project,
            "card": card,
            "latest": latest,
            **_finance_context(request),
        },
    )


@_allowed(Action.RATES_MANAGE)
@require_POST
def rate_version_withdraw(request: HttpRequest, version_id: int) -> HttpResponse:
    """Withdraw a version that is not yet in force (finance)."""
    version = get_object_or_404(rate_versions_visible_to(request.user), pk=version_id)
    try:
        rate_card_version_withdraw(
            version=version, actor=request_user(request), reason=request.POST.get("reason", "")
        )
    except QuorumError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Version {version.number} is withdrawn; it will never apply.")
    return redirect("payments:rate_card_history", card_id=version.card_id)


@dataclass
class PreviewLine:
    label: str
    match: RateMatch | None
    why_none: str

    @property
    def amount_display(self) -> str:
        return format_micros(self.match.amount) if self.match else ""


def _person_from(text: str, people: QuerySet[User]) -> User | None:
    text = text.strip()
    if text.isdigit() and len(text) <= 18:
        return people.filter(pk=int(text)).first()
    return people.filter(email__iexact=text).first()


def _preview_lines(project: Project, person: User) -> tuple[str, int, list[PreviewLine]]:
    """One line per kind of work the person could do on the project, priced as of now."""
    profile = work_profile_of(project=project, person=person, work_kind=WorkKind.ANNOTATION)
    levels = sorted({int(level["level"]) for level in project.review_levels or []}) or [1]
    kinds: list[tuple[str, str, int | None]] = [(WorkKind.ANNOTATION, "Annotation", None)]
    kinds += [(WorkKind.REVIEW, f"Review, level {level}", level) for level in levels]
    kinds += [
        (WorkKind.TRAINING, "Training module", None),
        (WorkKind.TEST, "Qualification test", None),
    ]
    now = timezone.now()
    lines = []
    for kind, label, level in kinds:
        match = rate_lookup(
            project=project,
            person=person,
            work_kind=kind,
            review_level=level,
            at=now,
            tier=profile.tier,
            skill_level=profile.skill_level,
        )
        why = ""
        if match is None:
            why = (
                "Not paid: training time is not paid (setting TRAINING_TIME_PAID)."
                if kind in (WorkKind.TRAINING, WorkKind.TEST) and not training_time_is_paid()
                else "Not paid: no rate in the card that applies."
            )
        lines.append(PreviewLine(label, match, why))
    return profile.tier, profile.skill_level, lines


@_allowed(Action.RATES_VIEW)
@require_GET
def rate_preview(request: HttpRequest) -> HttpResponse:
    """What a person would earn today on a project: for one final task or one active hour of each
    kind of work, and which card version says so."""
    form = RatePreviewForm(request.GET or None)
    context: dict[str, Any] = {"form": form, **_finance_context(request)}
    if form.is_valid():
        project = _projects_in_scope(request).filter(pk=form.cleaned_data["project"]).first()
        people = (
            User.objects.all()
            if can(request.user, Action.RATES_MANAGE)
            else users_visible_to(request.user)
        )
        person = _person_from(form.cleaned_data["person"], people)
        if project is None:
            form.add_error("project", "There is no such project among yours.")
        if person is None:
            form.add_error("person", "There is no such person among those you see.")
        if project is not None and person is not None:
            tier, skill_level, lines = _preview_lines(project, person)
            context.update(
                project=project,
                person=person,
                tier=tier_label(tier),
                skill_level=skill_level,
                lines=lines,
            )
    return render(request, "payments/rates/preview.html", context)


urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/rates/", rate_cards, name="rate_cards"),
    path("finance/rates/new/", rate_version_new, name="rate_version_new"),
    path("finance/rates/preview/", rate_preview, name="rate_preview"),
    path("finance/rates/cards/<id:card_id>/", rate_card_history, name="rate_card_history"),
    path(
        "finance/rates/versions/<id:version_id>/withdraw/",
        rate_version_withdraw,
        name="rate_version_withdraw",
    ),
]

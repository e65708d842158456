"""Finance's incentive pages: programs, their versions, a period's preview (who would get what,
the total against the budget), the close button and the close's progress, and the lines of a
closed period. Every write goes through payments.services.incentives (finance, with MFA)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import QuorumError, ValidationFailed
from core.forms import form_add_error
from kit.money import Minor, format_minor
from labeling.selectors import person_names
from payments.incentive_forms import (
    PeriodForm,
    ProgramForm,
    TierFormSet,
    VersionForm,
    tier_rows_initial,
)
from payments.incentive_rules import THRESHOLDS, RewardKind
from payments.models import IncentiveBonusLine, IncentivePeriod, IncentiveProgram
from payments.selectors.earnings_pages import bonus_reason, percent_text
from payments.selectors.incentives import (
    incentive_periods_list,
    incentive_programs_list,
    incentive_version_in_force,
    incentive_versions_list,
    period_bounds,
)
from payments.services.incentives import (
    VersionSpec,
    incentive_period_close_start,
    incentive_period_preview,
    incentive_program_create,
    incentive_version_add,
)

LINES_PER_PAGE = 100


def _finance(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can(request.user, Action.INCENTIVES_MANAGE):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def _money(minor: int | None, currency: str) -> str:
    return "none" if minor is None else format_minor(Minor(minor, currency))


def tier_text(tier: dict[str, Any], kind: str, currency: str) -> str:
    """A stored tier as finance reads it: its reward and its thresholds."""
    reward = (
        f"+{percent_text(tier['reward'])} of the period's earnings"
        if kind == RewardKind.MULTIPLIER
        else format_minor(Minor(tier["reward"], currency))
    )
    needs = []
    for name, label, value_kind in THRESHOLDS:
        value = tier.get(name)
        if value is not None:
            shown = percent_text(value) if value_kind == "share" else f"{value:,}"
            needs.append(f"{label} at least {shown}")
    return f"{reward} for {', '.join(needs)}"


@_finance
@require_GET
def incentive_programs(request: HttpRequest) -> HttpResponse:
    """Every program with the version in force now and its latest periods."""
    now = timezone.now()
    programs = list(incentive_programs_list())
    rows = [(program, incentive_version_in_force(program, now)) for program in programs]
    periods = incentive_periods_list()[:20]
    return render(
        request,
        "payments/incentives/programs.html",
        {"rows": rows, "periods": periods, "shows_ledger": True},
    )


def _version_spec(
    request: HttpRequest, form: VersionForm, tiers: Any, currency: str
) -> VersionSpec | None:
    """The version the forms describe, or None (with the errors on the forms)."""
    if not (form.is_valid() and tiers.is_valid()):
        return None
    kind = form.cleaned_data["kind"]
    rows = [row.tier(kind, currency) for row in tiers.forms if not row.is_blank()]
    cap = form.money("cap", currency)
    budget = form.money("budget", currency)
    if form.errors or any(row.errors for row in tiers.forms):
        return None
    if not rows:
        form.add_error(None, "Fill in at least one tier.")
        return None
    effective = form.cleaned_data.get("effective_from")
    return VersionSpec(
        kind=kind,
        tiers=[row for row in rows if row is not None],
        cap_minor=cap,
        budget_minor=budget,
        budget_policy=form.cleaned_data["budget_policy"],
        effective_from=effective.astimezone(UTC) if effective else None,
        note=form.cleaned_data["note"],
    )


def _show(form: Any, tiers: Any, error: QuorumError) -> None:
    fields: dict[str, list[str]] = (
        error.extra.get("fields", {}) if isinstance(error, ValidationFailed) else {}
    )
    rest: dict[str, list[str]] = {}
    for name, found in fields.items():
        parts = name.split(".")
        if parts[0] == "tiers" and len(parts) >= 2 and parts[1].isdigit():
            forms_filled = [row for row in tiers.forms if not row.is_blank()]
            row = forms_filled[int(parts[1])] if int(parts[1]) < len(forms_filled) else None
            field = parts[2].removesuffix("_ppm") if len(parts) > 2 else None
            for message in found:
                if row is not None:
                    row.add_error(field if field in row.fields else None, message)
        else:
            rest[name] = found
    if rest or not fields:
        form_add_error(form, ValidationFailed(error.message, fields=rest) if rest else error)


@_finance
@require_http_methods(["GET", "POST"])
def incentive_program_new(request: HttpRequest) -> HttpResponse:
    """Create a program with its first version."""
    program_form = ProgramForm(request.POST or None)
    version_form = VersionForm(request.POST or None)
    tiers = TierFormSet(request.POST or None, prefix="tiers")
    if request.method == "POST" and program_form.is_valid():
        data = program_form.cleaned_data
        spec = _version_spec(request, version_form, tiers, data["currency"])
        if spec is not None:
            try:
                program = incentive_program_create(
                    actor=request_user(request),
                    name=data["name"],
                    scope=data["scope"],
                    project=data["project"],
                    team=data["team"],
                    period=data["period"],
                    currency=data["currency"],
                    first_version=spec,
                )
            except QuorumError as exc:
                fields = exc.extra.get("fields", {}) if isinstance(exc, ValidationFailed) else {}
                if any(name in program_form.fields for name in fields):
                    form_add_error(program_form, exc)
                else:
                    _show(version_form, tiers, exc)
            else:
                messages.success(request, f"Program {program.name} is saved.")
                return redirect("payments:incentive_program", program_id=program.pk)
    return render(
        request,
        "payments/incentives/program_form.html",
        {"program_form": program_form, "form": version_form, "tiers": tiers, "program": None},
    )


@_finance
@require_GET
def incentive_program(request: HttpRequest, program_id: int) -> HttpResponse:
    """A program: its versions, newest first, its periods and the close form."""
    program = get_object_or_404(incentive_programs_list(), pk=program_id)
    versions = [
        (
            version,
            _money(version.cap_minor, program.currency),
            _money(version.budget_minor, program.currency),
            [tier_text(tier, version.kind, program.currency) for tier in version.tiers],
        )
        for version in incentive_versions_list().filter(program=program)
    ]
    periods = incentive_periods_list().filter(program=program)[:50]
    now = timezone.now()
    current_start, _ = period_bounds(program.period, now)
    last_start, _ = period_bounds(program.period, current_start - timedelta(seconds=1))
    return render(
        request,
        "payments/incentives/program.html",
        {
            "program": program,
            "versions": versions,
            "periods": periods,
            "current_start": current_start,
            "last_start": last_start,
            "close_form": PeriodForm(initial={"period_start": last_start.date()}),
        },
    )


@_finance
@require_http_methods(["GET", "POST"])
def incentive_version_new(request: HttpRequest, program_id: int) -> HttpResponse:
    """Add a version to a program (from now or later, never before)."""
    program = get_object_or_404(incentive_programs_list(), pk=program_id)
    latest = incentive_versions_list().filter(program=program).first()
    if request.method == "POST":
        form = VersionForm(request.POST)
        tiers = TierFormSet(request.POST, prefix="tiers")
        spec = _version_spec(request, form, tiers, program.currency)
        if spec is not None:
            try:
                version = incentive_version_add(
                    actor=request_user(request), program=program, spec=spec
                )
            except QuorumError as exc:
                _show(form, tiers, exc)
            else:
                messages.success(request, f"Version {version.number} is saved.")
                return redirect("payments:incentive_program", program_id=program.pk)
    else:
        initial: dict[str, Any] = {}
        rows = None
        if latest is not None:
            initial = {
                "kind": latest.kind,
                "budget_policy": latest.budget_policy,
                "cap": _plain(latest.cap_minor, program.currency),
                "budget": _plain(latest.budget_minor, program.currency),
            }
            rows = tier_rows_initial(latest.tiers, latest.kind, program.currency)
        form = VersionForm(initial=initial)
        tiers = TierFormSet(prefix="tiers", initial=rows)
    return render(
        request,
        "payments/incentives/program_form.html",
        {"program_form": None, "form": form, "tiers": tiers, "program": program},
    )


def _plain(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    return format_minor(Minor(minor, currency), with_code=False).replace(",", "")


def _period_start(request: HttpRequest, program: IncentiveProgram) -> datetime:
    form = PeriodForm(request.GET or request.POST or None)
    if form.is_valid():
        day = form.cleaned_data["period_start"]
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return period_bounds(program.period, timezone.now())[0]


@_finance
@require_GET
def incentive_preview(request: HttpRequest, program_id: int) -> HttpResponse:
    """Who would get what in a period if it closed now, and the total against the budget."""
    program = get_object_or_404(incentive_programs_list(), pk=program_id)
    starts = _period_start(request, program)
    context: dict[str, Any] = {"program": program, "starts": starts}
    try:
        preview = incentive_period_preview(program=program, starts_at=starts)
    except QuorumError as exc:
        context["error"] = exc.message
    else:
        names = person_names(user_ids={line.user_id for line in preview.lines}, with_contact=True)
        context.update(
            preview=preview,
            rows=[
                (
                    line,
                    names.get(line.user_id, f"Person {line.user_id}"),
                    _money(line.computed_minor, program.currency),
                    _money(line.amount_minor, program.currency),
                )
                for line in preview.lines
            ],
            total=_money(preview.total_minor, program.currency),
            before=_money(preview.total_before_budget_minor, program.currency),
            budget=_money(preview.budget_minor, program.currency),
        )
    return render(request, "payments/incentives/preview.html", context)


@_finance
@require_POST
def incentive_close(request: HttpRequest, program_id: int) -> HttpResponse:
    """Start closing a period (the job posts the bonuses; the period page shows its progress)."""
    program = get_object_or_404(incentive_programs_list(), pk=program_id)
    form = PeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the first day of the period to close.")
        return redirect("payments:incentive_program", program_id=program.pk)
    day = form.cleaned_data["period_start"]
    try:
        period = incentive_period_close_start(
            program=program,
            starts_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
            actor=request_user(request),
        )
    except QuorumError as exc:
        messages.error(request, exc.message)
        return redirect("payments:incentive_program", program_id=program.pk)
    return redirect("payments:incentive_period", period_id=period.pk)


@_finance
@require_GET
def incentive_period(request: HttpRequest, period_id: int) -> HttpResponse:
    """A period's close: its progress while it runs, then every person's line and why."""
    period = get_object_or_404(incentive_periods_list(), pk=period_id)
    lines = (
        IncentiveBonusLine.objects.filter(period=period)
        .select_related("period__program", "user")
        .order_by("rank_tier", "rank_final_tasks", "user_id")
    )
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    currency = period.program.currency
    rows = [(line, bonus_reason(line), _money(line.amount_minor, currency)) for line in page]
    return render(
        request,
        "payments/incentives/period.html",
        {
            "period": period,
            "page": page,
            "rows": rows,
            "paid": _money(period.paid_minor, currency),
            "before": _money(period.awarded_before_budget_minor, currency),
        },
    )


@login_required
@require_GET
def incentive_period_progress(request: HttpRequest, period_id: int) -> HttpResponse:
    """The progress of a close as a small fragment (the period page polls it while closing)."""
    if not can(request.user, Action.INCENTIVES_MANAGE):
        raise PermissionDenied
    period: IncentivePeriod = get_object_or_404(IncentivePeriod, pk=period_id)
    return render(request, "payments/incentives/_progress.html", {"period": period})


urlpatterns: list[URLPattern | URLResolver] = [
    path("finance/incentives/", incentive_programs, name="incentive_programs"),
    path("finance/incentives/new/", incentive_program_new, name="incentive_program_new"),
    path("finance/incentives/<id:program_id>/", incentive_program, name="incentive_program"),
    path(
        "finance/incentives/<id:program_id>/versions/new/",
        incentive_version_new,
        name="incentive_version_new",
    ),
    path(
        "finance/incentives/<id:program_id>/preview/",
        incentive_preview,
        name="incentive_preview",
    ),
    path("finance/incentives/<id:program_id>/close/", incentive_close, name="incentive_close"),
    path("finance/incentives/periods/<id:period_id>/", incentive_period, name="incentive_period"),
    path(
        "finance/incentives/periods/<id:period_id>/progress/",
        incentive_period_progress,
        name="incentive_period_progress",
    ),
]

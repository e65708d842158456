"""Quality figures of a project for its managers and customer: agreement, people, confusions.

`GET /projects/{id}/agreement/?batch=` (inter-annotator agreement of the project or one import
batch), `GET /projects/{id}/people/?batch=&sort=` (per-person figures, paginated),
`GET /projects/{id}/confusions/` (the per-person confusion estimates of a consensus project) and
`POST` there to queue a re-estimate, `GET /projects/{id}/calibration/` (the confidence's calibration
measured on gold: ECE and reliability bins), and for managers `GET /projects/{id}/worker-confusions/
?reference=final|gold` and `.../worker-confusions/csv/` (each person's observed confusion matrix with counts and 95%
intervals, their own people only). Another customer's project is "not found".
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, can
from core.api.pagination import PageNumberPagination
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from labeling import policy
from labeling.models import Project, WorkerConfusion
from labeling.selectors import person_names
from labeling.services.consensus import consensus_confusions_estimate_queue
from quality.reports.agreement import agreement_report
from quality.reports.calibration import gold_calibration
from quality.reports.confusions import confusions_apply, confusions_of
from quality.reports.people import (
    DEFAULT_PEOPLE_SORT,
    PEOPLE_SORTS,
    PersonQuality,
    people_report,
    people_sorted,
)
from quality.reports.scope import batch_of
from quality.reports.worker_confusion import (
    REFERENCE_FINAL,
    REFERENCES,
    PersonConfusion,
    worker_confusion_applies,
    worker_confusions,
    worker_confusions_csv,
)
from workforce.selectors.teams import profiles_managed_by

BATCH_PARAMETER = OpenApiParameter(
    "batch", OpenApiTypes.INT, description="An import batch id: figures of that batch only."
)
SORT_PARAMETER = OpenApiParameter(
    "sort",
    OpenApiTypes.STR,
    description="One of "
    + ", ".join(sorted(PEOPLE_SORTS))
    + '; "-" first for descending. Default: '
    + DEFAULT_PEOPLE_SORT
    + ".",
)


def _project(request: Request, project_id: int) -> Project:
    return get_object_or_404(policy.projects_managed_by(request.user), pk=project_id)


def _batch_id(request: Request, project: Project) -> int | None:
    raw = request.query_params.get("batch", "")
    if not raw:
        return None
    try:
        batch_id = int(raw)
    except ValueError:
        raise ValidationFailed(
            "batch: An import batch id.", fields={"batch": ["An import batch id."]}
        ) from None
    if batch_of(project=project, batch_id=batch_id) is None:
        raise NotFound("This project has no such import batch.", extra={"batch": batch_id})
    return batch_id


class PairKappaSerializer(serializers.Serializer[Any]):
    first = serializers.IntegerField(help_text="A person's id.")
    second = serializers.IntegerField(help_text="The other person's id.")
    kappa = serializers.FloatField()
    items = serializers.IntegerField(help_text="Tasks both labeled.")


class AgreementSerializer(serializers.Serializer[Any]):
    batch_id = serializers.IntegerField(allow_null=True)
    task_type = serializers.CharField()
    annotations = serializers.IntegerField(help_text="Counted annotations of non-gold tasks used.")
    tasks = serializers.IntegerField(help_text="Non-gold tasks with at least one of them.")
    is_capped = serializers.BooleanField(
        help_text="Whether only the newest `rows_max` annotations were used."
    )
    rows_max = serializers.IntegerField()
    fleiss_kappa = serializers.FloatField(
        allow_null=True, help_text="Over the tasks with the most common number of annotations."
    )
    fleiss_raters = serializers.IntegerField(allow_null=True)
    fleiss_tasks = serializers.IntegerField()
    fleiss_note = serializers.CharField(help_text='What it covers, or "n/a: " and why.')
    alpha = serializers.FloatField(allow_null=True)
    alpha_label = serializers.CharField(
        help_text="Krippendorff's alpha (nominal) for single labels; otherwise the mean "
        "per-annotation agreement with the final result."
    )
    alpha_note = serializers.CharField()
    pairwise_kappa = serializers.FloatField(
        allow_null=True, help_text="Mean Cohen's kappa over pairs of people."
    )
    pairs_count = serializers.IntegerField()
    pairwise_note = serializers.CharField()
    pairs = PairKappaSerializer(many=True, help_text="The pairs with the most tasks in common.")


class PersonQualitySerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    name = serializers.SerializerMethodField(help_text="For labeling staff only; else null.")
    labels = serializers.IntegerField()
    active_seconds_per_label = serializers.FloatField(allow_null=True)
    mean_agreement = serializers.FloatField(
        allow_null=True, help_text="Mean per-annotation agreement with the final result (0..1)."
    )
    agreement_share = serializers.FloatField(
        allow_null=True, help_text="Share of labels equal to the final label (single-label)."
    )
    agreement_kappa = serializers.FloatField(
        allow_null=True, help_text="Cohen's kappa against the final labels (single-label)."
    )
    agreement_items = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True, help_text="Mean gold score (0..1).")
    gold_scores = serializers.IntegerField()
    reviews_received = serializers.IntegerField()
    review_pass_rate = serializers.FloatField(
        allow_null=True, help_text="Share of reviews of their work that approved it."
    )
    skips = serializers.IntegerField()
    reviews_given = serializers.IntegerField()
    reviews_audited = serializers.IntegerField(help_text="Their reviews a higher level judged.")
    reviews_upheld = serializers.IntegerField()
    reviewer_accuracy = serializers.FloatField(
        allow_null=True, help_text="Share of their audited reviews that were upheld."
    )

    def get_name(self, person: PersonQuality) -> str | None:
        names: dict[int, str] = self.context.get("names", {})
        return names.get(person.user_id)


class WorkerConfusionSerializer(serializers.ModelSerializer[WorkerConfusion]):
    class Meta:
        model = WorkerConfusion
        fields = ["user_id", "classes", "matrix", "accuracy", "labels_seen", "updated_at"]
        read_only_fields = fields


class ReliabilityBinSerializer(serializers.Serializer[Any]):
    low = serializers.FloatField()
    high = serializers.FloatField(help_text="Exclusive, except 1.0 in the last bin.")
    count = serializers.IntegerField(help_text="Gold tasks whose confidence lies in the bin.")
    mean_confidence = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True, help_text="Share right on gold.")


class CalibrationSerializer(serializers.Serializer[Any]):
    applies = serializers.BooleanField(help_text="Single-label consensus projects only.")
    confidence_method = serializers.CharField(
        allow_null=True, help_text='"posterior" (a probability) or "vote_share" (majority vote).'
    )
    gold_tasks = serializers.IntegerField(help_text="Gold tasks considered (the newest 2,000).")
    measured = serializers.IntegerField(
        help_text="Gold tasks on which the project's aggregation, replayed, delivers a label."
    )
    right = serializers.IntegerField(help_text="Of those, labels equal to the gold answer.")
    accuracy = serializers.FloatField(allow_null=True)
    mean_confidence = serializers.FloatField(allow_null=True)
    too_few_labels = serializers.IntegerField(help_text="Gold tasks with too few labels to replay.")
    undecided = serializers.IntegerField(
        help_text="Gold tasks the project would send to review or leave unlabelled."
    )
    ece = serializers.FloatField(
        allow_null=True, help_text="Expected calibration error (0..1) over ten bins; null: none."
    )
    warning_threshold = serializers.FloatField()
    is_warning = serializers.BooleanField(help_text="ECE above the warning threshold.")
    bins = ReliabilityBinSerializer(many=True)


class ConfusionShareSerializer(serializers.Serializer[Any]):
    right = serializers.IntegerField()
    total = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, lower end.")
    high = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, upper end.")


class ConfusionRowSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(help_text="The reference (final or gold) label of the row.")
    counts = serializers.ListField(
        child=serializers.IntegerField(), help_text="Labels given, in the order of `classes`."
    )
    share = ConfusionShareSerializer(
        help_text="The row's accuracy: the diagonal cell over the row."
    )


class PersonConfusionSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    name = serializers.SerializerMethodField()
    classes = serializers.ListField(child=serializers.CharField())
    rows = ConfusionRowSerializer(many=True)
    overall = ConfusionShareSerializer()
    skipped = serializers.IntegerField(help_text="Labels outside the project's current labels.")

    def get_name(self, person: PersonConfusion) -> str | None:
        names: dict[int, str] = self.context.get("names", {})
        return names.get(person.user_id)


class QueuedSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()


class AgreementView(APIView):
    """Inter-annotator agreement: Fleiss' kappa, Krippendorff's alpha and pairwise Cohen's kappa."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(parameters=[BATCH_PARAMETER], responses={200: AgreementSerializer})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        report = agreement_report(project=project, batch_id=_batch_id(request, project))
        return Response(AgreementSerializer(report).data)


class PeopleView(GenericAPIView[Any]):
    """Each person's figures: labels, agreement with the final results, gold accuracy, review
    pass rate, skips, active time; and as a reviewer, how often a higher level upheld them."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = PersonQualitySerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[BATCH_PARAMETER, SORT_PARAMETER],
        responses={200: PersonQualitySerializer(many=True)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        report = people_report(project=project, batch_id=_batch_id(request, project))
        people, _ = people_sorted(report.people, request.query_params.get("sort"))
        page = self.paginate_queryset(people) or []
        names = person_names(
            user_ids=[p.user_id for p in page], with_contact=policy.is_labeling_staff(request.user)
        )
        data = PersonQualitySerializer(page, many=True, context={"names": names}).data
        return self.get_paginated_response(data)


class ConfusionsView(GenericAPIView[WorkerConfusion]):
    """Per-person confusion estimates of a single-label consensus project; POST queues a fresh
    estimate (Dawid-Skene over the project's labels), which replaces these when it is done."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = WorkerConfusionSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    @extend_schema(responses={200: WorkerConfusionSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        page = self.paginate_queryset(confusions_of(project)) or []
        return self.get_paginated_response(WorkerConfusionSerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={
            202: QueuedSerializer,
            409: OpenApiResponse(description="Not a single-label consensus project"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        if not confusions_apply(project):
            raise Conflict(
                "Confusion estimates apply to single-label consensus projects only.",
                extra={"pipeline": project.pipeline, "task_type": project.task_type},
            )
        consensus_confusions_estimate_queue(project=project)
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


class CalibrationView(APIView):
    """How well the project's label confidence matches how often the labels are right on gold:
    each gold task replayed through the project's aggregation; ECE and the reliability bins."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses={200: CalibrationSerializer})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        return Response(CalibrationSerializer(gold_calibration(project=project)).data)


def _reference(request: Request) -> str:
    reference = request.query_params.get("reference", REFERENCE_FINAL)
    if reference not in REFERENCES:
        message = f"Use one of: {', '.join(REFERENCES)}."
        raise ValidationFailed(f"reference: {message}", fields={"reference": [message]})
    return reference


REFERENCE_PARAMETER = OpenApiParameter(
    "reference",
    OpenApiTypes.STR,
    enum=list(REFERENCES),
    description="What each row is: the task's final label (default) or the gold answer.",
)


def _worker_confusions_for(
    request: Request, project_id: int
) -> tuple[Project, str, list[PersonConfusion]]:
    """The project (managed by the caller) and the matrices of the people the caller manages."""
    if not can(request.user, Action.PEOPLE_VIEW):
        raise PermissionDenied("Only managers see each person's confusion matrix.")
    project = _project(request, project_id)
    if not worker_confusion_applies(project):
        raise Conflict(
            "Confusion matrices apply to single-label projects.",
            extra={"task_type": project.task_type},
        )
    reference = _reference(request)
    people = worker_confusions(
        project=project,
        user_ids=profiles_managed_by(request.user).values("user_id"),
        reference=reference,
    )
    return project, reference, people


class WorkerConfusionsView(GenericAPIView[Any]):
    """Each person's observed confusion matrix in a single-label project (counts, and each row's
    accuracy with a 95% Wilson interval), for managers: only the people they manage."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = PersonConfusionSerializer
    pagination_class = PageNumberPagination
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        responses={
            200: PersonConfusionSerializer(many=True),
            409: OpenApiResponse(description="Not a single-label project"),
        },
    )
    def get(self, request: Request, project_id: int) -> Response:
        _, _, people = _worker_confusions_for(request, project_id)
        page = self.paginate_queryset(people) or []
        names = person_names(
            user_ids=[p.user_id for p in page], with_contact=policy.is_labeling_staff(request.user)
        )
        data = PersonConfusionSerializer(page, many=True, context={"names": names}).data
        return self.get_paginated_response(data)


class WorkerConfusionsCsvView(APIView):
    """The same matrices as one CSV file: a line per person, reference label and given label,
    with the row's accuracy and 95% interval."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="Not a single-label project"),
        },
    )
    def get(self, request: Request, project_id: int) -> HttpResponse:
        project, reference, people = _worker_confusions_for(request, project_id)
        response = HttpResponse(worker_confusions_csv(people), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="project-{project.pk}-confusions-{reference}.csv"'
        )
        return response


urlpatterns = [
    path(
        "projects/<id:project_id>/agreement/",
        AgreementView.as_view(),
        name="project-agreement",
    ),
    path("projects/<id:project_id>/people/", PeopleView.as_view(), name="project-people"),
    path(
        "projects/<id:project_id>/confusions/",
        ConfusionsView.as_view(),
        name="project-confusions",
    ),
    path(
        "projects/<id:project_id>/calibration/",
        CalibrationView.as_view(),
        name="project-calibration",
    ),
    path(
        "projects/<id:project_id>/worker-confusions/",
        WorkerConfusionsView.as_view(),
        name="project-worker-confusions",
    ),
    path(
        "projects/<id:project_id>/worker-confusions/csv/",
        WorkerConfusionsCsvView.as_view(),
        name="project-worker-confusions-csv",
    ),
]

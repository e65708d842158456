"""Webhook endpoints of a customer and the deliveries made to them.

Customers' users manage their own customer's endpoints; admins and managers reach every
customer's and name the customer when they create one. An endpoint outside a person's scope
is "not found". A signing secret is shown once: when the endpoint is created or its secret
rotated.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from core.errors import NotFound, PermissionDenied, ValidationFailed
from labeling.models import (
    Customer,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from labeling.policy import customer_of, customers_visible_to, is_customer_user, is_labeling_staff
from labeling.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)

EVENTS_HELP = "Event names to send; empty means every event."
SHOWN_ONCE_HELP = (
    "Signs each delivery (the X-Quorum-Signature header). It is shown only this once; "
    "rotate it to get a new one."
)


def webhook_endpoints_visible_to(user: Any) -> QuerySet[WebhookEndpoint]:
    """Endpoints of the customers this user may see (every customer's for admins and managers)."""
    return WebhookEndpoint.objects.filter(customer__in=customers_visible_to(user))


class ManagesWebhooks(BasePermission):
    """Allow admins, managers and customers' users; everyone else is refused."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return is_labeling_staff(user) or is_customer_user(user)


# --- Serializers ----------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": WebhookEvent.values},
        "description": f"{EVENTS_HELP} One of: {', '.join(WebhookEvent.values)}.",
    }
)
class EventListField(serializers.ListField):
    """A list of webhook event names.

    Its schema is declared here so that it does not compete with the delivery's `event` field for
    the name of the event enum in the OpenAPI components.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.ChoiceField(choices=WebhookEvent.choices),
            help_text=EVENTS_HELP,
            **kwargs,
        )


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    events = EventListField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "customer", "url", "events", "is_active", "created_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text=SHOWN_ONCE_HELP)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class VisibleCustomerField(serializers.PrimaryKeyRelatedField[Customer]):
    """A customer id among those the requesting user may see (others do not exist for them)."""

    def get_queryset(self) -> QuerySet[Customer]:
        request = self.context.get("request")
        return customers_visible_to(request.user if request is not None else None)


class WebhookEndpointCreateSerializer(serializers.Serializer[Any]):
    customer = VisibleCustomerField(
        required=False,
        help_text="Required for admins and managers; a customer's users get their own customer.",
    )
    url = serializers.CharField(
        max_length=500, help_text="An https:// address that accepts POST requests."
    )
    events = EventListField(required=False, default=list)


class WebhookEndpointUpdateSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=500, required=False)
    events = EventListField(required=False)
    is_active = serializers.BooleanField(required=False)


class WebhookSecretSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(read_only=True, help_text=SHOWN_ONCE_HELP)


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields


# --- Views ----------------------------------------------------------------------------------


class WebhookEndpointFilter(FilterSet):
    # A plain number, not a choice among all customers: an unknown id and another customer's id
    # must look the same (an empty list), or the filter would reveal which customers exist.
    customer = IdFilter(field_name="customer_id")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["customer", "is_active"]


class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[WebhookEndpoint],
):
    """Addresses that receive signed event notifications (task completed, export ready, ...)."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [*BASE_PERMISSIONS, ManagesWebhooks]
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookEndpoint.objects.none()
        return webhook_endpoints_visible_to(self.request.user).order_by("customer_id", "id")

    @extend_schema(
        request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WebhookEndpointCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        user = request_user(request)
        customer: Customer | None = data.validated_data.get("customer")
        if customer is None:
            if is_labeling_staff(user):
                raise ValidationFailed(
                    "customer: name the customer the endpoint is for.",
                    fields={"customer": ["This field is required."]},
                )
            customer = customer_of(user)
            if customer is None:
                raise PermissionDenied("You do not act for a customer.")
        endpoint, secret = webhook_endpoint_create(
            customer=customer,
            url=data.validated_data["url"],
            events=data.validated_data["events"],
            actor=user,
        )
        body = WebhookEndpointCreatedSerializer(endpoint).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        data = WebhookEndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(
            endpoint=endpoint, actor=request_user(request), **data.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook_endpoint_delete(endpoint=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """Replace the signing secret at once; the old one stops working immediately."""
        secret = webhook_endpoint_rotate_secret(
            endpoint=self.get_object(), actor=request_user(request)
        )
        return Response({"secret": secret})


class WebhookDeliveryFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDeliveryStatus.choices)
    event = django_filters.ChoiceFilter(choices=WebhookEvent.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


class WebhookDeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[WebhookDelivery]):
    """What was sent to one endpoint, newest first, with every attempt and the answer to it."""

    serializer_class = WebhookDeliverySerializer
    permission_classes = [*BASE_PERMISSIONS, ManagesWebhooks]
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookDelivery.objects.none()
        endpoint = (
            webhook_endpoints_visible_to(self.request.user)
            .filter(pk=self.kwargs["webhook_id"])
            .values_list("pk", flat=True)
            .first()
        )
        if endpoint is None:
            raise NotFound("There is no such webhook endpoint.")
        attempts = WebhookAttempt.objects.order_by("attempted_at", "id")
        return (
            WebhookDelivery.objects.filter(endpoint_id=endpoint)
            .prefetch_related(Prefetch("attempt_log", queryset=attempts))
            .order_by("-created_at", "-id")
        )


router = Router()
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "webhooks/<id:webhook_id>/deliveries/",
        WebhookDeliveryViewSet.as_view({"get": "list"}),
        name="webhook-delivery-list",
    ),
    *router.urls,
]

"""API: the Stripe webhook endpoint, POST /api/v1/stripe/webhook/ (wired into payments/api/urls.py).

Stripe is the only caller: there is no session or token and no CSRF check; the
`Stripe-Signature` header, verified against STRIPE_WEBHOOK_SECRET, is the authentication. The
view reads the raw body (the signature covers the exact bytes), calls one service and answers at
once; processing happens in Celery (payments/services/stripe_events.py, docs/payouts-stripe.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services.stripe_events import StripeWebhookRefused, stripe_event_receive

logger = logging.getLogger(__name__)


class StripeWebhookAnswerSerializer(serializers.Serializer[Any]):
    received = serializers.BooleanField(help_text="Always true: the event is stored.")
    event = serializers.CharField(help_text="The Stripe event id (evt_...).")
    duplicate = serializers.BooleanField(
        help_text="True when this event was stored before; it is not processed again."
    )


class StripeWebhookView(APIView):
    """Receive one Stripe event: verify it, store it once, queue its processing."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="stripe_webhook_receive",
        tags=["stripe"],
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: StripeWebhookAnswerSerializer,
            400: OpenApiResponse(
                description=(
                    "Refused and not stored: code stripe_signature_missing, "
                    "stripe_signature_invalid, stripe_signature_stale, stripe_event_malformed "
                    "(extra.fields names the field) or stripe_webhook_not_configured."
                )
            ),
        },
        description=(
            "Stripe's webhook deliveries (configure this URL in Stripe's dashboard). Needs the "
            "`Stripe-Signature` header Stripe sends; a forged, stale (older than "
            "STRIPE_WEBHOOK_TOLERANCE_SECONDS) or malformed delivery is refused with 400 and not "
            "stored. An event already received answers 200 with `duplicate` true."
        ),
        examples=[
            OpenApiExample(
                "Stored",
                value={"received": True, "event": "evt_1", "duplicate": False},
                response_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            received = stripe_event_receive(
                payload=request.body, signature=request.headers.get("Stripe-Signature")
            )
        except StripeWebhookRefused as exc:
            logger.warning("Stripe webhook refused (%s): %s", exc.code, exc.message)
            raise
        return Response(
            StripeWebhookAnswerSerializer(
                {
                    "received": True,
                    "event": received.event.pk,
                    "duplicate": received.is_duplicate,
                }
            ).data
        )


urlpatterns: list[URLPattern | URLResolver] = [
    path("stripe/webhook/", StripeWebhookView.as_view(), name="stripe-webhook"),
]

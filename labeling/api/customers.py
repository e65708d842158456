"""Customers (data owners): labeling staff see and create them; a customer's users see their own."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from core.api.routers import Router
from core.errors import PermissionDenied
from labeling import policy
from labeling.models import Customer
from labeling.services.projects import customer_create


class CustomerSerializer(serializers.ModelSerializer[Customer]):
    class Meta:
        model = Customer
        fields = ["id", "name", "slug", "created_at"]
        read_only_fields = ["id", "created_at"]


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Customer],
):
    """Customers (data owners). Staff see and create them; a customer's users see their own."""

    serializer_class = CustomerSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[Customer]:
        return policy.customers_visible_to(self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not policy.is_labeling_staff(request.user):
            raise PermissionDenied("Only managers and administrators create customers.")
        data = CustomerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_create(
            name=data.validated_data["name"],
            slug=data.validated_data.get("slug", ""),
            actor=request_user(request),
        )
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


router = Router()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]

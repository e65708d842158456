"""A customer's IP allowlist and its administrators.

Quorum administrators and the customer's own administrators (customer users marked `is_admin`)
read and replace the allowlist; only Quorum administrators mark a customer's users as its
administrators. Another customer is "not found"; a customer's user who is not one of its
administrators, or a manager, is refused.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import PermissionDenied
from core.net import client_address
from labeling.models import Customer, CustomerMember
from labeling.policy import customers_administered_by, customers_visible_to
from labeling.services.access import (
    MAX_IP_ALLOWLIST_ENTRIES,
    customer_ip_allowlist_set,
    customer_member_admin_set,
)


class IpAllowlistSerializer(serializers.Serializer[Any]):
    customer = serializers.IntegerField(read_only=True)
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=64),
        help_text=(
            "Networks the customer's users may come from, as CIDR ranges or single addresses, "
            f"IPv4 or IPv6 (at most {MAX_IP_ALLOWLIST_ENTRIES}); empty: anywhere."
        ),
    )
    force = serializers.BooleanField(
        default=False,
        write_only=True,
        help_text="Save even though the list leaves out the address you are saving from.",
    )
    your_address = serializers.CharField(
        read_only=True, allow_null=True, help_text="The address this request came from."
    )


class CustomerMemberSerializer(serializers.ModelSerializer[CustomerMember]):
    user = serializers.IntegerField(source="user_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = CustomerMember
        fields = ["user", "email", "full_name", "is_admin", "joined_at"]
        read_only_fields = ["joined_at"]


def _customer(request: Request, customer_id: int) -> Customer:
    return get_object_or_404(customers_visible_to(request.user), pk=customer_id)


def _allowlist_body(request: Request, customer: Customer) -> dict[str, Any]:
    address = client_address(request.META)
    return {
        "customer": customer.pk,
        "ip_allowlist": customer.ip_allowlist,
        "your_address": str(address) if address is not None else None,
    }


class CustomerIpAllowlistView(APIView):
    """The customer's IP allowlist: its users are refused from any other address (403
    `ip_not_allowed`). Refuses a list that leaves out your own address unless `force` is set."""

    permission_classes = BASE_PERMISSIONS

    def _administered(self, request: Request, customer_id: int) -> Customer:
        customer = _customer(request, customer_id)
        if not customers_administered_by(request.user).filter(pk=customer.pk).exists():
            raise PermissionDenied(
                "Only Quorum administrators and this customer's administrators manage its "
                "IP allowlist."
            )
        return customer

    @extend_schema(responses=IpAllowlistSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer = self._administered(request, customer_id)
        return Response(IpAllowlistSerializer(_allowlist_body(request, customer)).data)

    @extend_schema(request=IpAllowlistSerializer, responses=IpAllowlistSerializer)
    def put(self, request: Request, customer_id: int) -> Response:
        customer = self._administered(request, customer_id)
        data = IpAllowlistSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_ip_allowlist_set(
            customer=customer,
            entries=data.validated_data["ip_allowlist"],
            actor=request_user(request),
            actor_address=client_address(request.META),
            force=data.validated_data["force"],
        )
        return Response(IpAllowlistSerializer(_allowlist_body(request, customer)).data)


class CustomerMemberListView(generics.ListAPIView[CustomerMember]):
    """The people who act for a customer, and which of them administer its settings."""

    serializer_class = CustomerMemberSerializer
    permission_classes = BASE_PERMISSIONS

    def get_queryset(self) -> QuerySet[CustomerMember]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no customer
            return CustomerMember.objects.none()
        customer = _customer(self.request, self.kwargs["customer_id"])
        return customer.members.select_related("user").order_by("user__email", "pk")


class CustomerMemberAdminSerializer(serializers.Serializer[Any]):
    is_admin = serializers.BooleanField()


class CustomerMemberView(APIView):
    """Mark a customer's user as one of its administrators, or not (Quorum administrators only)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(request=CustomerMemberAdminSerializer, responses=CustomerMemberSerializer)
    def patch(self, request: Request, customer_id: int, user_id: int) -> Response:
        customer = _customer(request, customer_id)
        if not can(request.user, Action.USERS_MANAGE):
            raise PermissionDenied("Only Quorum administrators choose a customer's administrators.")
        member = get_object_or_404(customer.members.select_related("user"), user_id=user_id)
        data = CustomerMemberAdminSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = customer_member_admin_set(
            member=member, is_admin=data.validated_data["is_admin"], actor=request_user(request)
        )
        return Response(CustomerMemberSerializer(member).data)


urlpatterns: list[URLPattern] = [
    path(
        "customers/<id:customer_id>/ip-allowlist/",
        CustomerIpAllowlistView.as_view(),
        name="customer-ip-allowlist",
    ),
    path(
        "customers/<id:customer_id>/members/",
        CustomerMemberListView.as_view(),
        name="customer-member-list",
    ),
    path(
        "customers/<id:customer_id>/members/<id:user_id>/",
        CustomerMemberView.as_view(),
        name="customer-member",
    ),
]

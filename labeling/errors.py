"""Errors of the labeling engine (rendered by the API as {"code", "message", "extra"})."""

from __future__ import annotations

from core.errors import Conflict, NotFound, PermissionDenied, QuorumError, ValidationFailed


class LeaseExpired(Conflict):
    code = "lease_expired"
    default_message = (
        "Your time on this task ran out, so it went back to the queue; your answer was not saved."
    )


class LeaseNotActive(Conflict):
    code = "lease_not_active"
    default_message = "This task is no longer yours: it was submitted, skipped or released."


class NoWorkAvailable(NotFound):
    """Nothing to claim; `extra["reason"]` says why: nothing_left, all_leased, all_done_by_you, project_not_active."""

    code = "no_work_available"
    default_message = "There is no task for you in this project right now."


class NotQualified(PermissionDenied):
    code = "not_qualified"
    default_message = "You are not qualified for this project yet."


class ProjectLocked(QuorumError):
    code = "project_locked"
    http_status = 409
    default_message = "This cannot change once the project has tasks or annotations."


class IpNotAllowed(PermissionDenied):
    """A customer's user came from an address outside the customer's IP allowlist."""

    code = "ip_not_allowed"
    default_message = (
        "Your organisation allows Quorum to be used only from its own networks, and this request "
        "came from elsewhere. Ask your organisation's Quorum administrator."
    )


class IpAllowlistExcludesYou(ValidationFailed):
    """Saving the allowlist would refuse the very address it is being saved from."""

    code = "ip_allowlist_excludes_you"

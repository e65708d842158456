"""Every write to workforce's records; one module per topic, re-exported here."""

from workforce.services.people import (
    annotator_profile_update,
    annotator_signup_complete,
    annotator_status_set,
    annotator_trust_set,
    skill_create,
    skill_level_grant,
    skill_level_revoke,
    terms_accept,
    terms_publish,
)

__all__ = [
    "annotator_profile_update",
    "annotator_signup_complete",
    "annotator_status_set",
    "annotator_trust_set",
    "skill_create",
    "skill_level_grant",
    "skill_level_revoke",
    "terms_accept",
    "terms_publish",
]

"""Every read of workforce's records; one module per topic, re-exported here."""

from workforce.selectors.people import (
    annotator_profile_get,
    annotator_profiles_for,
    eligibility_refusal,
    skill_held,
    skill_levels_list,
    skill_levels_of,
    skills_with_counts,
    standing_expression,
    standing_from,
    standing_of,
    terms_acceptances_of,
    terms_current,
    worker_eligibility,
    working_profile,
)

__all__ = [
    "annotator_profile_get",
    "annotator_profiles_for",
    "eligibility_refusal",
    "skill_held",
    "skill_levels_list",
    "skill_levels_of",
    "skills_with_counts",
    "standing_expression",
    "standing_from",
    "standing_of",
    "terms_acceptances_of",
    "terms_current",
    "worker_eligibility",
    "working_profile",
]

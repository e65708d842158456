"""workforce's records: people and their standing (people), skill checks (checks), and the rest by topic."""

from workforce.models.checks import (
    AttemptState,
    CheckAttempt,
    CheckKind,
    SkillCheck,
)
from workforce.models.people import (
    WORKING_STATUSES,
    AnnotatorProfile,
    AnnotatorStatus,
    Skill,
    SkillLevel,
    Standing,
    TermsAcceptance,
    TermsVersion,
)
from workforce.models.tiers import (
    CandidateState,
    LeadGrant,
    StandingDecision,
    StandingDecisionKind,
    TierCandidate,
    TierDirection,
    TierReading,
    TierSignal,
)

__all__ = [
    "WORKING_STATUSES",
    "AnnotatorProfile",
    "AnnotatorStatus",
    "AttemptState",
    "CheckAttempt",
    "CheckKind",
    "Skill",
    "SkillCheck",
    "SkillLevel",
    "Standing",
    "TermsAcceptance",
    "TermsVersion",
]
__all__ += [  # tiers and standing (kept as their own block so topics merge cleanly)
    "CandidateState",
    "LeadGrant",
    "StandingDecision",
    "StandingDecisionKind",
    "TierCandidate",
    "TierDirection",
    "TierReading",
    "TierSignal",
]

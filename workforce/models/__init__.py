"""workforce's records: people and their standing (people), skill checks (checks), and the rest by topic."""

from workforce.models.checks import (
    AttemptState,
    CheckAttempt,
    CheckKind,
    SkillCheck,
)
from workforce.models.notifications import (
    EMAIL_BY_DEFAULT,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from workforce.models.onboarding import JourneyEvent
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
from workforce.models.teams import (
    SkillComparator,
    Team,
    TeamAnnouncement,
    TeamManager,
    TeamMembership,
    TeamRole,
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
    "EMAIL_BY_DEFAULT",
    "WORKING_STATUSES",
    "AnnotatorProfile",
    "AnnotatorStatus",
    "AttemptState",
    "CandidateState",
    "CheckAttempt",
    "CheckKind",
    "JourneyEvent",
    "LeadGrant",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "Skill",
    "SkillCheck",
    "SkillComparator",
    "SkillLevel",
    "Standing",
    "StandingDecision",
    "StandingDecisionKind",
    "Team",
    "TeamAnnouncement",
    "TeamManager",
    "TeamMembership",
    "TeamRole",
    "TermsAcceptance",
    "TermsVersion",
    "TierCandidate",
    "TierDirection",
    "TierReading",
    "TierSignal",
]

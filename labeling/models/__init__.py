"""Work: customers, projects, tasks, queues, annotations, imports, exports, webhooks."""

from labeling.models.checks import CheckAnswer as CheckAnswer
from labeling.models.customers import Customer, CustomerMember
from labeling.models.delivery import (
    ExportJob,
    ExportStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from labeling.models.imports import ImportJob, ImportSource, ImportStatus
from labeling.models.projects import (
    AggregationMethod,
    InstructionVersion,
    Pipeline,
    Project,
    ProjectStatus,
    QueueOrder,
    TaskType,
)
from labeling.models.quality import (
    GoldAnswer,
    GoldScore,
    RejectReason,
    Review,
    Verdict,
    WorkerConfusion,
    WorkerProjectState,
)
from labeling.models.work import (
    Annotation,
    AnnotationStatus,
    Lease,
    LeaseState,
    SlotKind,
    SlotState,
    Task,
    TaskParticipation,
    TaskStatus,
    WorkSlot,
)

__all__ = [
    "AggregationMethod",
    "Annotation",
    "AnnotationStatus",
    "Customer",
    "CustomerMember",
    "ExportJob",
    "ExportStatus",
    "GoldAnswer",
    "GoldScore",
    "ImportJob",
    "ImportSource",
    "ImportStatus",
    "InstructionVersion",
    "Lease",
    "LeaseState",
    "Pipeline",
    "Project",
    "ProjectStatus",
    "QueueOrder",
    "RejectReason",
    "Review",
    "SlotKind",
    "SlotState",
    "Task",
    "TaskParticipation",
    "TaskStatus",
    "TaskType",
    "Verdict",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkSlot",
    "WorkerConfusion",
    "WorkerProjectState",
]

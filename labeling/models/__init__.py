"""Work: customers, projects, tasks, queues, annotations, imports, exports, webhooks."""

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
    InstructionVersion,
    Pipeline,
    Project,
    ProjectStatus,
    QueueOrder,
    TaskType,
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
    "Annotation",
    "AnnotationStatus",
    "Customer",
    "CustomerMember",
    "ExportJob",
    "ExportStatus",
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
    "SlotKind",
    "SlotState",
    "Task",
    "TaskParticipation",
    "TaskStatus",
    "TaskType",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkSlot",
]

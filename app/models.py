"""Import every model so Alembic autogenerate and create_all see the whole schema."""

from app.audit.models import AuditEvent  # noqa: F401
from app.core.models import ApiToken, Region, User  # noqa: F401
from app.dealers.models import Dealer, DealerAddress, DealerBankAccount, DealerLifecycle  # noqa: F401
from app.engine.models import ProcessInstance, ProcessVersion  # noqa: F401
from app.erp.models import ErpMessage  # noqa: F401
from app.files.models import Attachment  # noqa: F401
from app.jobs.models import Incident, Job  # noqa: F401
from app.stores.models import (  # noqa: F401
    Inspection,
    InspectionPlan,
    InspectionScore,
    Store,
    StoreBudgetLine,
    StoreEvent,
    StoreMilestone,
    StorePhoto,
)
from app.tasks.models import HumanTask, TaskCandidate  # noqa: F401

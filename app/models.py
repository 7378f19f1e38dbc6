"""Import every model so Alembic autogenerate and create_all see the whole schema."""

from app.announcements.models import Announcement, AnnouncementRead  # noqa: F401
from app.audit.models import AuditEvent  # noqa: F401
from app.catalog.models import (  # noqa: F401
    DealerSalesArea,
    Product,
    ProductCategory,
    ProductPrice,
    ProductSalesArea,
)
from app.core.models import ApiToken, Region, User  # noqa: F401
from app.dealers.models import Dealer, DealerAddress, DealerBankAccount, DealerLifecycle  # noqa: F401
from app.engine.models import ProcessInstance, ProcessVersion, TimerStartSlot  # noqa: F401
from app.erp.models import ErpMessage  # noqa: F401
from app.files.models import Attachment  # noqa: F401
from app.jobs.models import Incident, Job, PeriodicRun  # noqa: F401
from app.notify.models import Notification, OutboxMessage  # noqa: F401
from app.orders.models import OrderEvent, OrderLine, OrderPart, SalesOrder  # noqa: F401
from app.payments.models import OrderPayment  # noqa: F401
from app.pricing.models import PriceChange, PriceChangeLine, PriceImport  # noqa: F401
from app.promotions.models import GiftStock, Promotion, PromotionUsage  # noqa: F401
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
from app.tasks.models import HumanTask, TaskCandidate, TaskCc, TaskProxy  # noqa: F401

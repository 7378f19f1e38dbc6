"""Dealerflow configuration.

Every setting lives here once, with its default. Any of them can be overridden by an
environment variable with the ``DEALERFLOW_`` prefix (``DEALERFLOW_DATABASE_URL``,
``DEALERFLOW_SECRET_KEY`` …); values are parsed as JSON when they look like JSON.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


class Config:
    # Database: SQLite file under instance/ by default; PostgreSQL via DEALERFLOW_DATABASE_URL.
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'instance' / 'dealerflow.db'}"
    # Session signing key. Must come from the environment in production; in development a
    # random key is generated once and kept in instance/secret_key.
    SECRET_KEY = None
    # Where BPMN/DMN files and form definitions are read from.
    PROCESSES_DIR = str(BASE_DIR / "processes")
    FORMS_DIR = str(BASE_DIR / "forms")
    # Uploaded files (business licences, photos) are stored here, content-addressed.
    UPLOAD_DIR = str(BASE_DIR / "instance" / "uploads")
    MAX_UPLOAD_BYTES = 5 * 1024 * 1024
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    # Store photos (applications, site surveys, inspections): images only, at most this size.
    STORE_PHOTO_MAX_BYTES = 5 * 1024 * 1024
    # A photo's EXIF DateTimeOriginal without OffsetTimeOriginal is local time at this offset.
    STORE_PHOTO_EXIF_UTC_OFFSET = "+08:00"
    # Store documents (contracts, licences, reports, floor plans, invoices): PDF, images and
    # Office files up to this size (below MAX_CONTENT_LENGTH, the whole request's limit).
    STORE_DOCUMENT_MAX_BYTES = 15 * 1024 * 1024
    # Days after a milestone's reminder before it is escalated to the regional manager.
    STORE_MILESTONE_ESCALATE_DAYS = 7
    # Deploy processes/ at start-up (web and worker).
    DEPLOY_ON_STARTUP = True
    # API bearer tokens live this many seconds.
    TOKEN_TTL_SECONDS = 12 * 3600
    # Jobs: attempts before an incident, base of the exponential backoff, lock lease.
    JOB_MAX_ATTEMPTS = 5
    JOB_BACKOFF_SECONDS = 10
    JOB_LOCK_SECONDS = 120
    # An idle worker looks for due jobs and timers this often: the share of the poll interval
    # in "last approval → ERP call" (bench/bench_erp_latency.py); a poll is two indexed reads.
    WORKER_POLL_SECONDS = 0.2
    # Remote connector calls (ERP, SMS …) a worker runs at once, each in its own thread.
    WORKER_CONCURRENCY = 8
    # Sandboxed scripts: wall-clock budget per script or condition.
    SCRIPT_TIMEOUT_SECONDS = 1.0
    # UI languages.
    LANGUAGES = ["zh_CN", "en"]
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "app" / "translations")
    # SQLite durability: NORMAL is safe with WAL (no corruption, last commit may roll back
    # on power loss); set FULL for stricter durability.
    SQLITE_SYNCHRONOUS = "NORMAL"
    # WAL checkpoints (copying the WAL into the database file, with an fsync) run in a
    # background thread this often instead of inside the commit that fills the WAL; 0 leaves
    # them to SQLite's automatic checkpoint in the committing request.
    SQLITE_CHECKPOINT_SECONDS = 1.0
    # Level of the workflow engine's own loggers ("spiff.*"). At INFO SpiffWorkflow logs every
    # task state change (dozens per approval), which costs more than the step itself.
    ENGINE_LOG_LEVEL = "WARNING"
    # Demo data (users with password "demo") is seeded only by `make run` / `flask demo seed`.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # OpenAPI (flask-smorest); the UI is served from local static files, never a CDN.
    API_TITLE = "Dealerflow API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    # ERP over SOAP (connectors/erp/). The default URL is the embedded simulator
    # (`flask erp-sim`, port ERP_SIM_PORT, its own SQLite file ERP_SIM_DATABASE).
    ERP_URL = "http://127.0.0.1:8070/sap/bc/srt/rfc/sap/zdealerflow"
    ERP_SIM_PORT = 8070
    ERP_SIM_DATABASE = str(BASE_DIR / "instance" / "erp-sim.db")
    # Seconds before a SOAP call is abandoned (a technical error: the job retries).
    ERP_TIMEOUT_SECONDS = 5
    # Credentials (DEALERFLOW_ERP_USER / DEALERFLOW_ERP_PASSWORD); None = no auth. ERP_AUTH is
    # "basic" (HTTP Basic, what SOAMANAGER endpoints use) or "wsse" (WS-Security UsernameToken).
    # When set, `flask erp-sim` requires the same credentials.
    ERP_USER = None
    ERP_PASSWORD = None
    ERP_AUTH = "basic"
    # Which credentials `flask erp-sim` accepts when ERP_USER is set: "basic", "wsse" or None
    # (either).
    ERP_SIM_AUTH = None
    # How fast simulator orders progress, e.g. '{"delivery_hours": 0.01, "payment_days": 1}'
    # (keys: delivery_hours, goods_issue_hours, billing_hours, payment_days; see
    # connectors/erp/simulator_clock.py). Empty = the defaults (2 h, 22 h, 1 h, 30 days).
    ERP_SIM_LEAD_TIMES: dict = {}
    # Credit control area (KKBER) used when a credit read names none.
    ERP_CREDIT_CONTROL_AREA = "1000"
    # The order credit check uses a dealer's cached ERP credit status (app.erp.credit) while
    # the ERP is down only when it is younger than this; 0 = never (retry, then an incident).
    ERP_CREDIT_CACHE_MAX_AGE_SECONDS = 3600
    # Notifications and outbox (app/notify). SMS / WeCom / e-signature gateways: with no URL
    # set, messages stay in the outbox (admin console) and the embedded e-signature service
    # "signs" ESIGN_SIGN_DELAY_SECONDS after sending, then delivers message `esign_signed`.
    SMS_URL = None
    SMS_TOKEN = None
    WECOM_URL = None
    WECOM_TOKEN = None
    ESIGN_URL = None
    ESIGN_TOKEN = None
    ESIGN_SIGN_DELAY_SECONDS = 5
    NOTIFY_TIMEOUT_SECONDS = 5
    # 催办 urge: a task may be urged once per this many minutes.
    URGE_INTERVAL_MINUTES = 30
    # Dealer admission timers (ISO 8601 durations), put into each instance's data at start:
    # remind the regional managers, then escalate the review to the sales director.
    ADMISSION_REMIND_AFTER = "PT24H"
    ADMISSION_ESCALATE_AFTER = "PT72H"
    # Process data seeded at start from settings: {process key: {variable: setting name}}.
    PROCESS_START_SETTINGS = {"dealer_admission": {
        "remind_after": "ADMISSION_REMIND_AFTER", "escalate_after": "ADMISSION_ESCALATE_AFTER"},
        "order_approval": {"credit_release_timeout": "ORDER_CREDIT_RELEASE_TIMEOUT"}}
    # A credit-blocked order that neither finance releases nor the dealer prepays within this
    # (ISO 8601 duration) is cancelled.
    ORDER_CREDIT_RELEASE_TIMEOUT = "P7D"
    # Prepayment (预付款) through the bank connector (connectors/bank.py). With no BANK_URL the
    # embedded simulated bank takes the payment request and "pays" it BANK_SIM_PAY_DELAY_SECONDS
    # later (the worker delivers the callback). With BANK_URL set, payment requests go to that
    # HTTP service (bearer BANK_TOKEN), which calls back POST /api/v1/payments/callback;
    # BANK_CALLBACK_URL is the address it is given (default: this server's own URL).
    BANK_URL = None
    BANK_TOKEN = None
    BANK_TIMEOUT_SECONDS = 5
    BANK_SIM_PAY_DELAY_SECONDS = 10
    BANK_CALLBACK_URL = None
    # The bank signs each callback: HMAC-SHA256 with this shared secret over
    # "<X-Bank-Timestamp>." + the raw body, sent as X-Bank-Signature: sha256=<hex> (see
    # connectors/bank.py). Unset, a secret derived from SECRET_KEY signs the embedded
    # simulated bank's callbacks, which no outside bank can know: set it for a real bank.
    # A callback whose timestamp is further than BANK_CALLBACK_WINDOW_SECONDS from now is refused.
    BANK_CALLBACK_SECRET = None
    BANK_CALLBACK_WINDOW_SECONDS = 300
    # Timer start events whose slots passed while no worker ran: "latest" starts one instance
    # for the latest missed slot, "catch_up" one per missed slot (at most
    # TIMER_START_CATCH_UP_LIMIT, the latest ones), "skip" none (only a slot reached within
    # TIMER_START_ON_TIME_SECONDS starts). A start event's spiffworkflow property
    # "missedSlots" wins over TIMER_START_POLICIES ({process key: policy}), which wins over
    # TIMER_START_MISSED_SLOTS.
    TIMER_START_MISSED_SLOTS = "latest"
    TIMER_START_POLICIES: dict = {}
    TIMER_START_CATCH_UP_LIMIT = 24
    TIMER_START_ON_TIME_SECONDS = 60
    # Company code (BUKRS) of receivables reads that name none.
    ERP_COMPANY_CODE = "1000"
    # "soap" (zeep, ERP_URL) or "rfc" (pyrfc with the SAP NW RFC SDK; without it each ERP call
    # fails with install guidance). ERP_RFC_CONNECTION holds pyrfc.Connection parameters, e.g.
    # DEALERFLOW_ERP_RFC_CONNECTION='{"ashost": "10.0.0.5", "sysnr": "00", "client": "100"}';
    # user and password come from ERP_USER / ERP_PASSWORD.
    ERP_TRANSPORT = "soap"
    # The ERP sales document type of each platform order type (standard, free goods, special
    # price); the simulator knows TA. A real SAP system usually has its own Z types.
    ERP_ORDER_TYPES: dict = {"ZOR": "TA", "ZFD": "TA", "ZSP": "TA"}
    # Price lists (PLTYP) a price change or import may name, besides those dealers already use.
    PRICE_LISTS: list = ["01", "02", "03"]
    PRICE_IMPORT_MAX_BYTES = 10 * 1024 * 1024  # an .xlsx of base prices (20,000 rows ≈ 0.6 MB)
    # One ERP price-write job sends condition batches for at most this long (then the process
    # loops to the next job), well inside JOB_LOCK_SECONDS.
    PRICE_ERP_WRITE_SECONDS = 40
    ERP_RFC_CONNECTION: dict = {}
    TESTING = False


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    DEPLOY_ON_STARTUP = True
    JOB_BACKOFF_SECONDS = 0


def load_secret_key(instance_path: str) -> str:
    """Return the development secret key, creating it on first use."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex()
    path.write_text(key)
    path.chmod(0o600)
    return key

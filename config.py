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
        "remind_after": "ADMISSION_REMIND_AFTER", "escalate_after": "ADMISSION_ESCALATE_AFTER"}}
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

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
    WORKER_POLL_SECONDS = 1.0
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
    # Credit control area (KKBER) used when a credit read names none.
    ERP_CREDIT_CONTROL_AREA = "1000"
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

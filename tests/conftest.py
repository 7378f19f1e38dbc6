"""Fixtures: a fresh, seeded database per test on SQLite (or PostgreSQL when
DEALERFLOW_TEST_DATABASE_URL is set), a client, logins and admission data."""

import io
import os
import struct
import threading
import zlib

import pytest
import requests
from flask import g, request_started
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from connectors.erp.simulator import SOAP_PATH, create_simulator

PG_URL = os.environ.get("DEALERFLOW_TEST_DATABASE_URL")


def tiny_png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("dealerflow")
    url = PG_URL or f"sqlite:///{base / 'test.db'}"
    application = create_app({"DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                              "SECRET_KEY": "test", "UPLOAD_DIR": str(base / "uploads"),
                              "JOB_BACKOFF_SECONDS": 0, "DEPLOY_ON_STARTUP": False})
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _wipe() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def fresh_db(app):
    from app.admin.demo import seed_demo
    from app.engine.services import clear_caches, deploy_directory

    with app.app_context():
        _wipe()
        clear_caches()
        seed_demo()
        deploy_directory(actor="test")
        db.session.commit()
        db.session.remove()
    with app.app_context():
        # Tests keep one app context open so they can use db.session; requests then share
        # ``g``: forget the per-request user and locale caches at the start of each request.
        request_started.connect(_reset_request_globals, app)
        yield
        request_started.disconnect(_reset_request_globals, app)
        db.session.remove()


def _reset_request_globals(sender, **_):
    for key in ("_login_user", "_flask_babel"):
        g.pop(key, None)


ERP_KEYS = ("ERP_URL", "ERP_TIMEOUT_SECONDS", "ERP_USER", "ERP_PASSWORD", "ERP_AUTH")


class Sim:
    def __init__(self, base: str, app):
        self.base, self.app = base, app
        self.store = app.extensions["erp_sim_store"]

    def faults(self, **changes) -> dict:
        r = requests.post(f"{self.base}/sim/admin/faults", json=changes, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def sim(app, tmp_path):
    """A live ERP simulator (fresh database) on a free port; ERP_URL points at it."""
    simulator = create_simulator({"database": str(tmp_path / "erp-sim.db")})
    server = make_server("127.0.0.1", 0, simulator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    saved = {key: app.config[key] for key in ERP_KEYS}
    app.config["ERP_URL"] = base + SOAP_PATH
    try:
        yield Sim(base, simulator)
    finally:
        app.config.update(saved)
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """login(username) → a test client with a page session for that demo user."""
    def _login(username: str, password: str = "demo"):
        c = app.test_client()
        r = c.post("/login", data={"username": username, "password": password})
        assert r.status_code == 302, r.data[:300]
        return c
    return _login


class Api:
    """A bearer-token API client for one user."""

    def __init__(self, client, username):
        r = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
        assert r.status_code == 200, r.json
        self.client, self.headers = client, {"Authorization": f"Bearer {r.json['token']}"}

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers={**self.headers, **(headers or {})}, **kw)

    def post(self, path, json=None, headers=None, **kw):
        return self.client.post(path, json=json, headers={**self.headers, **(headers or {})},
                                **kw)


@pytest.fixture
def api(app):
    return lambda username: Api(app.test_client(), username)


@pytest.fixture
def upload_png(app):
    def _upload(username="applicant"):
        client = Api(app.test_client(), username)
        r = client.post("/api/v1/files", data={"file": (io.BytesIO(tiny_png()), "licence.png")},
                        content_type="multipart/form-data")
        assert r.status_code == 201, r.json
        return r.json["id"]
    return _upload


@pytest.fixture
def admission_data(upload_png):
    """A valid East application; ``overrides`` change fields."""
    def _data(**overrides):
        data = {
            "company_name": "杭州西湖食品有限公司", "city": "杭州",
            "uscc": overrides.pop("uscc", None) or _uscc(),
            "legal_representative": "张三", "contact_name": "李四", "contact_phone": "13912345678",
            "region": "east", "dealer_type": "tier1", "level": "B",
            "requested_credit_limit": "300000.00", "bank_name": "招商银行",
            "bank_account": "6225880212345678",
            "shipping_addresses": [{"address": "杭州市西湖区文三路 1 号", "receiver": "王五",
                                    "phone": "13700001111"}],
            "business_licence": overrides.pop("business_licence", None) or upload_png(),
        }
        data.update(overrides)
        return data
    return _data


_counter = iter(range(10_000, 99_999))


def _uscc() -> str:
    """A fresh valid unified social credit code (GB 32100-2015 check digit)."""
    from app.forms import uscc_check_char

    body = f"91330100MA{next(_counter):05d}X1"[:17]
    return body + uscc_check_char(body)

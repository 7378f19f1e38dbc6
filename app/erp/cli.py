"""``flask erp-sim``: serve the ERP simulator; ``flask erp call``: run one erp.* operation."""

import sys
import uuid

import click
import orjson
from flask import current_app
from flask.cli import AppGroup, with_appcontext

erp_cli = AppGroup("erp", help="Call the ERP (the configured transport) from the shell.")


@click.command("erp-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: ERP_SIM_PORT (8070).")
@with_appcontext
def erp_sim_cmd(host, port):
    """Serve the ERP simulator (SOAP on the shipped WSDL) with werkzeug, threaded."""
    from werkzeug.serving import run_simple

    from connectors.erp.simulator import SOAP_PATH, create_simulator

    cfg = current_app.config
    port = port or int(cfg["ERP_SIM_PORT"])
    users = {str(cfg["ERP_USER"]): str(cfg["ERP_PASSWORD"])} if cfg.get("ERP_USER") else None
    simulator = create_simulator({"database": cfg["ERP_SIM_DATABASE"], "users": users,
                                  "auth": cfg.get("ERP_SIM_AUTH"),
                                  "clock": {"lead_times": cfg.get("ERP_SIM_LEAD_TIMES") or {}}})
    click.echo(f"ERP simulator on http://{host}:{port}{SOAP_PATH} "
               f"(WSDL: /sap/bc/srt/wsdl?wsdl, faults: /sim/admin/faults, "
               f"clock: /sim/admin/clock)")
    run_simple(host, port, simulator, threaded=True, use_reloader=False)


@erp_cli.command("call")
@click.argument("operation")
@click.option("--params", "params_json", default="{}", show_default=True,
              help="The operation's parameters as a JSON object.")
@click.option("--key", default=None, help="Idempotency key (default: a new one per call).")
def erp_call_cmd(operation, params_json, key):
    """Run an erp.* operation and print its result as JSON, e.g.

    flask erp call erp.get_materials --params '{"sales_org": "1000"}'
    """
    from marshmallow import ValidationError

    from connectors.registry import BusinessError, CallContext, ConnectorError, registry

    op = registry.get(operation)
    if op is None or not operation.startswith("erp."):
        names = ", ".join(n for n in registry.names() if n.startswith("erp."))
        raise click.BadParameter(f"unknown operation; one of: {names}", param_hint="OPERATION")
    try:
        params = op.load_params(orjson.loads(params_json))
    except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
        messages = getattr(exc, "messages", str(exc))
        raise click.BadParameter(orjson.dumps(messages).decode(), param_hint="--params") from None
    ctx = CallContext(idempotency_key=key or f"cli:{uuid.uuid4()}", instance_id=0, actor="cli")
    try:
        result = op.fn(params, ctx)
    except BusinessError as exc:
        click.echo(f"ERP business error {exc.code}: {exc.message}", err=True)
        sys.exit(2)
    except ConnectorError as exc:
        click.echo(f"ERP unavailable: {exc}", err=True)
        sys.exit(1)
    click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


@erp_cli.command("sync")
@with_appcontext
def sync_cmd():
    """Pull materials and PR00 prices from the ERP into the catalogue now."""
    from app.erp.sync import sync_master_data
    from app.extensions import db
    from connectors.registry import BusinessError, ConnectorError

    try:
        counts = sync_master_data()
    except BusinessError as exc:
        db.session.rollback()
        click.echo(f"ERP business error {exc.code}: {exc.message}", err=True)
        sys.exit(2)
    except ConnectorError as exc:
        db.session.rollback()
        click.echo(f"ERP unavailable: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(orjson.dumps(counts, option=orjson.OPT_INDENT_2).decode())

"""``flask erp-sim``: serve the ERP simulator for development and demos."""

import click
from flask import current_app
from flask.cli import with_appcontext


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
    simulator = create_simulator({"database": cfg["ERP_SIM_DATABASE"], "users": users})
    click.echo(f"ERP simulator on http://{host}:{port}{SOAP_PATH} "
               f"(WSDL: /sap/bc/srt/wsdl?wsdl, faults: /sim/admin/faults)")
    run_simple(host, port, simulator, threaded=True, use_reloader=False)

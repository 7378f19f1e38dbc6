"""``flask stores …``: generate inspections for a month and check overdue milestones.

Both are what the worker's periodic jobs run; each is safe to run again (and on several
workers at once): a slot's inspections are created once, a milestone is reminded once.
"""

from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

stores_cli = AppGroup("stores", help="Store lifecycle jobs.")


@stores_cli.command("generate-inspections")
@click.option("--slot", required=True, help="The month, YYYY-MM.")
def generate_cmd(slot):
    """Create the month's inspections for every active plan (none twice)."""
    from app.core.errors import ValidationFailed
    from app.stores.inspections import generate_inspections

    try:
        created = generate_inspections(slot, actor="cli")
    except ValidationFailed as exc:
        raise click.BadParameter(exc.errors["slot"][0], param_hint="--slot") from None
    db.session.commit()
    click.echo(f"{slot}: {created} inspection(s) created")


@stores_cli.command("check-milestones")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Check as of this day (default: today).")
def check_cmd(today):
    """Mark overdue opening milestones; remind the dealer, then escalate."""
    from app.stores.services import check_overdue_milestones

    counts = check_overdue_milestones(
        today.date() if today else date.today(),
        escalate_after_days=current_app.config["STORE_MILESTONE_ESCALATE_DAYS"])
    db.session.commit()
    click.echo(f"{counts['reminded']} reminded, {counts['escalated']} escalated")


@stores_cli.command("check-inspections")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Check as of this day (default: today).")
def check_inspections_cmd(today):
    """Remind inspectors of inspections due within three days; escalate overdue ones."""
    from app.stores.inspections import check_inspections

    counts = check_inspections(today.date() if today else date.today())
    db.session.commit()
    click.echo(f"{counts['inspection_due_soon']} reminded, {counts['inspection_overdue']} "
               "escalated")

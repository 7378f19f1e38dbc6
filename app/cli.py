"""Operations as ``flask`` commands (FLASK_APP=wsgi)."""

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db

processes_cli = AppGroup("processes", help="Deploy and check BPMN/DMN models.")
@processes_cli.command("layout")
@click.argument("paths", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Lay out again files whose diagram is complete.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file lacks DI.")
def layout_cmd(paths, force, check):
    """Give BPMN files a left-to-right diagram (DI) where shapes or edges are missing."""
    from pathlib import Path

    from app.engine.layout import LayoutError, layout_bpmn, missing_di

    files = [f for p in map(Path, paths)
             for f in (sorted(p.glob("*.bpmn")) if p.is_dir() else [p])]
    incomplete = 0
    for path in files:
        try:
            content = path.read_bytes()
            missing = missing_di(content)
            if check:
                if missing:
                    incomplete += 1
                    click.echo(f"{path}: no DI for {', '.join(missing[:8])}"
                               f"{' …' if len(missing) > 8 else ''}")
                continue
            if missing or force:
                path.write_bytes(layout_bpmn(content))
                click.echo(f"{path}: laid out")
            else:
                click.echo(f"{path}: complete, kept")
        except (OSError, LayoutError) as exc:
            click.echo(f"{path}: {exc}", err=True)
            incomplete += 1
    sys.exit(1 if incomplete else 0)


users_cli = AppGroup("users", help="Manage users.")
audit_cli = AppGroup("audit", help="The audit trail.")
demo_cli = AppGroup("demo", help="Demo data.")
messages_cli = AppGroup("messages", help="BPMN messages and their correlation keys.")


@messages_cli.command("reindex")
@click.option("--missing-only", is_flag=True,
              help="Only waiting instances without any stored key (what deploy runs).")
def reindex_cmd(missing_only):
    """Store the correlation keys of every instance waiting for a message (idempotent)."""
    from app.engine.services import reindex_subscriptions

    checked, rewritten = reindex_subscriptions(missing_only=missing_only)
    db.session.commit()
    click.echo(f"{checked} waiting instances checked, {rewritten} reindexed")


@processes_cli.command("deploy")
@click.argument("paths", nargs=-1)
def deploy_cmd(paths):
    """Deploy processes/ (or the given files/directories)."""
    from app.core.errors import DeployError
    from app.engine.services import deploy_directory, deploy_files, read_model_files

    try:
        results = deploy_files(read_model_files(paths), "cli") if paths else deploy_directory()
    except DeployError as exc:
        db.session.rollback()
        for p in exc.problems:
            click.echo(f"{p['file']}:{p['line'] or '?'}: [{p['element'] or '-'}] {p['message']}",
                       err=True)
        sys.exit(1)
    db.session.commit()
    for r in results:
        click.echo(f"{r.process_key} v{r.version} {'deployed' if r.created else 'unchanged'}")
    # Instances that started waiting before correlation keys were stored get theirs now.
    from app.engine.services import reindex_subscriptions

    _, rewritten = reindex_subscriptions(missing_only=True)
    db.session.commit()
    if rewritten:
        click.echo(f"correlation keys stored for {rewritten} waiting instances")


@processes_cli.command("check")
@click.argument("paths", nargs=-1, required=True)
def check_cmd(paths):
    """Validate each file on its own and print a table; exit 1 if any is rejected."""
    from app.engine.parsing import ModelProblems
    from app.engine.services import check_files, read_model_files

    files = read_model_files(paths)
    rejected = 0
    click.echo(f"{'file':<28} {'result':<9} reason")
    for name, content in files.items():
        try:
            bundle = check_files({name: content})
            click.echo(f"{name:<28} {'ok':<9} processes: {', '.join(bundle.process_ids())}")
        except ModelProblems as exc:
            rejected += 1
            first = exc.problems[0]
            where = f"line {first['line']}" if first["line"] else "file"
            element = f" [{first['element']}]" if first["element"] else ""
            more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            click.echo(f"{name:<28} {'rejected':<9} {where}{element}: {first['message']}{more}")
    click.echo(f"{len(files) - rejected} deployable, {rejected} rejected")
    sys.exit(1 if rejected else 0)


@users_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--region", default=None)
@click.option("--dealer-id", type=int, default=None)
@click.option("--name", default="")
def create_user_cmd(username, password, roles, region, dealer_id, name):
    """Create a user with roles (repeat --role), region and dealer."""
    from app.admin.services import create_user

    user = create_user(username, password, list(roles), region=region, dealer_id=dealer_id,
                       display_name=name, actor="cli")
    db.session.commit()
    click.echo(f"created {user.username} ({', '.join(user.roles)})")


@audit_cli.command("verify")
def verify_cmd():
    """Recompute the hash chain; exit 0 when it holds, else name the first broken event."""
    from app.audit.services import verify_chain

    count, broken, reason = verify_chain()
    if broken is None:
        click.echo(f"audit chain OK: {count} events verified")
        return
    click.echo(f"audit chain BROKEN at event {broken.id} ({broken.action} by {broken.actor} "
               f"at {broken.at}): {reason}; {count} events before it verified", err=True)
    sys.exit(1)


@demo_cli.command("seed")
def seed_cmd():
    """Seed regions, demo users (password 'demo') and two active dealers."""
    from app.admin.demo import seed_demo
    from app.announcements.demo import seed_demo_announcements
    from app.portal.demo import seed_demo_commerce
    from app.stores.demo import seed_demo_stores

    created = seed_demo()
    stores = seed_demo_stores()
    commerce = seed_demo_commerce()
    seed_demo_announcements()
    db.session.commit()
    click.echo(f"demo data ready ({created} users, {stores} stores created; {commerce['products']} "
               f"products and {commerce['promotions']} promotions created)")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run due jobs once and exit.")
@click.option("--id", "worker_id", default=None)
def worker_cmd(once, worker_id):
    """Run the job worker (APScheduler): service tasks, retries, due timers."""
    from app.jobs.worker import run_worker

    run_worker(once=once, worker_id=worker_id)


def register_cli(app: Flask) -> None:
    for group in (processes_cli, users_cli, audit_cli, demo_cli, messages_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker_cmd)
    from app.erp.cli import erp_cli, erp_sim_cmd

    app.cli.add_command(erp_sim_cmd)
    app.cli.add_command(erp_cli)
    from app.jobs.cli import jobs_cli

    app.cli.add_command(jobs_cli)
    from app.stores.cli import stores_cli

    app.cli.add_command(stores_cli)

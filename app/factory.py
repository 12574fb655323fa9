"""The application factory: configuration, extensions, blueprints, error handlers, CLI.

``create_app`` builds the Flask application; nothing runs at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from app import config as app_config
from app import db
from app.announcements.decision import verdict_label
from app.approval import FourEyes, is_own
from app.clock import SystemClock
from app.crypto import load_keys
from app.ops.logs import configure_logging, register_request_logging
from app.playbooks.loader import load_playbooks
from app.security import configure_cookies, register_security_headers
from app.web import register_converters, register_upload_limits
from app.wording import plural

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()
login_manager = LoginManager()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration (environment, then ``config``), extensions, blueprints, errors."""
    settings = app_config.from_environment()
    settings.update(config or {})
    instance = Path(settings.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    app = Flask(__name__, instance_path=str(instance), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "app" / "static"))
    app.config.update(settings)
    register_config_defaults(app)
    register_converters(app)
    app.add_template_filter(plural, "plural")
    app.add_template_filter(verdict_label, "verdict_label")
    app.add_template_global(_own_work, "own_work")
    register_extensions(app)
    register_blueprints(app)
    register_handlers(app)
    return app


def register_config_defaults(app: Flask) -> None:
    """Fill the database URL, secret key, clock and playbooks when not configured.

    Raises ``PlaybookError`` (naming file, field and reason) when a playbook is broken: start-up stops.
    """
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'breach-notify.sqlite'}")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = app_config.instance_secret(instance)
    configure_cookies(app)
    app.extensions["clock"] = app.config.get("CLOCK") or SystemClock()
    app.config.setdefault("SWEEP_SECONDS", 60)
    app.config.setdefault("REMINDER_OFFSETS", (86400, 21600))
    app.extensions["keys"] = load_keys(app.config.get("DATA_KEYS"), instance,
                                       index_env_value=app.config.get("INDEX_KEY"))
    app.extensions["playbooks"] = load_playbooks(Path(app.config["PLAYBOOKS_DIR"]) if app.config.get(
        "PLAYBOOKS_DIR") else None)
    configure_logging(level=app.config.get("LOG_LEVEL", "INFO"), fmt=app.config.get("LOG_FORMAT", "json"))


def register_extensions(app: Flask) -> None:
    """Database, CSRF protection and the login manager."""
    from app.accounts import service as accounts

    db.init_app(app)
    register_request_logging(app)  # first: the request id is bound before any other hook can fail
    register_upload_limits(app)  # before CSRF, whose check reads the form
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"

    @login_manager.user_loader  # type: ignore[untyped-decorator]
    def _load(user_id: str) -> Any:
        return accounts.load_user(db.get_session(), user_id)


def register_blueprints(app: Flask) -> None:
    """Every blueprint; the JSON API authenticates by token only and is exempt from CSRF."""
    from app.accounts.routes import bp as accounts_bp
    from app.announcements.routes import api as announcements_api
    from app.announcements.routes import public as public_notices
    from app.announcements.routes import ui as announcements_ui
    from app.audit.routes import bp as audit_bp
    from app.callcentre.routes import ui as callcentre_ui
    from app.dispatch.personal import bp as personal_notice
    from app.dispatch.routes import api as dispatch_api
    from app.dispatch.routes import ui as dispatch_ui
    from app.dispatch.routes import webhooks as dispatch_webhooks
    from app.health import bp as health_bp
    from app.incidents.routes import api as incidents_api
    from app.incidents.routes import ui as incidents_ui
    from app.intake.routes import api as intake_api
    from app.letters.routes import ui as letters_ui
    from app.notices.routes import api as notices_api
    from app.notices.routes import ui as notices_ui
    from app.obligations.routes import api as obligations_api
    from app.obligations.routes import ui as obligations_ui
    from app.openapi import bp as openapi_bp
    from app.ops.routes import bp as ops_bp
    from app.reports.pages import ui as reports_ui
    from app.reports.routes import api as reports_api
    from app.reports.routes import public as reports_public
    from app.reports.routes import regulator as reports_regulator
    from app.subjects.routes import api as subjects_api
    from app.subjects.routes import ui as subjects_ui
    from app.webhooks.routes import api as webhooks_api
    from app.webhooks.routes import ui as webhooks_ui

    apis = (announcements_api, incidents_api, obligations_api, subjects_api, notices_api, audit_bp, dispatch_api,
            dispatch_webhooks, reports_api, webhooks_api, intake_api, openapi_bp)
    for api in apis:
        csrf.exempt(api)
    pages = (health_bp, ops_bp, accounts_bp, public_notices, personal_notice, announcements_ui, incidents_ui,
             obligations_ui, subjects_ui, notices_ui, dispatch_ui, reports_ui, reports_public, reports_regulator,
             letters_ui, callcentre_ui, webhooks_ui)
    for bp in (*pages, *apis):
        app.register_blueprint(bp)


def register_handlers(app: Flask) -> None:
    """Error mapping, the migration gate and the CLI."""
    from app.cli import register_cli
    from app.web import register_error_handlers, register_migration_gate

    register_error_handlers(app)
    register_migration_gate(app)
    register_security_headers(app)
    register_cli(app)


def _own_work(record: FourEyes) -> bool:
    """Template global ``own_work(record)``: the signed-in user drafted or submitted ``record`` (four eyes)."""
    return is_own(record, current_user.actor)

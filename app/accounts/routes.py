"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from app.accounts import service
from app.accounts.access import READ, requires
from app.db import get_session

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None, role: str) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("reports_regulator.regulator_index" if role == "regulator" else "incidents_ui.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Show the form; on a valid POST sign in and go to ``next`` (same-site only)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = service.check_password(get_session(), email=form.email.data or "",
                                      password=form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next"), user.role))
        flash("Wrong email or password.", "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
@requires(READ | {"regulator"})
def logout() -> Response:
    """Sign out (POST with CSRF token)."""
    logout_user()
    return redirect(url_for("accounts.login"))

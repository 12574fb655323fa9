"""Sign-in, sign-out and change-password pages."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from app.accounts import service
from app.accounts.access import READ, requires
from app.accounts.models import User
from app.db import get_session
from app.errors import InvalidInput

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    """Current password, and the new one twice."""

    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="the two new passwords differ")])


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
            service.record_login(get_session(), clock=current_app.extensions["clock"], user=user)
            if user.must_change_password:
                return redirect(url_for("accounts.change_password"))
            return redirect(_safe_next(request.args.get("next"), user.role))
        flash("Wrong email or password.", "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
@requires(READ | {"regulator"})
def logout() -> Response:
    """Sign out (POST with CSRF token)."""
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(READ | {"regulator"})
def change_password() -> str | Response:
    """Show the form; on a valid POST set the new password, renew the session and go home.

    The only page (with sign-out) open to a user who signed in with a one-time password.
    """
    form = ChangePasswordForm()
    user = cast(User, g.user)
    if form.validate_on_submit():
        try:
            service.change_password(get_session(), clock=current_app.extensions["clock"], user=user,
                                    current=form.current_password.data or "", new=form.new_password.data or "")
        except InvalidInput as exc:
            flash(exc.message, "error")
        else:
            login_user(user)  # the session id carries a stamp of the password: renew it
            flash("Password changed.", "info")
            return redirect(_safe_next(None, user.role))
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")
    return render_template("change_password.html", form=form, forced=user.must_change_password,
                           min_length=service.MIN_PASSWORD_LENGTH)

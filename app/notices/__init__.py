"""Breach notices: the pure, database-free core.

* ``context``: the facts a notice says (pydantic models);
* ``rendering``: sandboxed Jinja2 rendering per regime, locale and channel;
* ``elements`` / ``checks`` / ``forbidden``: required content, breached-data and readability checks;
* ``sms`` / ``push``: SMS encoding and segments, Web Push payload size;
* ``email_build``: the notice email (RFC 5322 / 2047 / 2045);
* ``links``: signed, expiring personal links ``/n/<token>``.
"""

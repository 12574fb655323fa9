"""Breach notices: the pure, database-free core.

* ``context``: the facts a notice says (pydantic models);
* ``rendering``: sandboxed Jinja2 rendering per regime, locale and channel;
* ``elements`` / ``checks`` / ``forbidden``: required content, breached-data and readability checks;
* ``sms`` / ``push``: SMS encoding and segments, Web Push payload size;
* ``email_build``: the notice email (RFC 5322 / 2047 / 2045);
* ``links``: signed, expiring personal links ``/n/<token>``.

The database and workflow side:

* ``models``: ``NoticeFacts`` (per incident) and ``NoticeVersion`` (per incident, audience, regime, channel,
  locale and number; draft -> submitted -> approved (locked) -> superseded);
* ``drafting``: render and check one version (element sets from the playbooks), render from stored templates;
* ``service``: save facts, draft, submit, approve (four eyes), current approved version, preview;
* ``letters``: a letter version as one PDF per recipient (WeasyPrint);
* ``routes`` / ``form`` / ``cli``: the API, the pages and ``breach-notify notices ...``.
"""

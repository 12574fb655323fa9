"""Breach-notification playbooks and the pure obligation engine (issue 4's core).

- ``schema`` / ``loader``: the YAML playbook format in ``incident_playbooks/`` and its validation.
- ``risk``, ``coverage``, ``calendar``, ``severity``: general risk factors, regime tests, deadline
  arithmetic and the ENISA 2013 severity score.
- ``engine.assess``: incident facts + subject counts + playbooks + clock -> obligations.
- ``cli``: ``assess`` and ``playbooks validate`` commands (no app or database needed).
"""

"""Operations: Prometheus metrics (``metrics``, ``routes``) and structured JSON logs (``logs``)."""

# breach-notify web service. The scheduler runs as its own container/process: `breach-notify scheduler`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BREACH_NOTIFY_INSTANCE=/var/lib/breach-notify
# Pango/HarfBuzz and fonts for WeasyPrint (letters, call-centre kit and report PDFs; WenQuanYi for CJK)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 fonts-dejavu-core fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 breach && mkdir -p /var/lib/breach-notify && chown breach /var/lib/breach-notify
WORKDIR /srv/breach-notify
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY incident_playbooks ./incident_playbooks
# the same install step as `make run`, without the test extras
RUN python -m pip install --no-cache-dir -e '.[serve]'
USER breach
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "breach-notify db upgrade && exec gunicorn --bind 0.0.0.0:8000 --workers 3 'app:create_app()'"]

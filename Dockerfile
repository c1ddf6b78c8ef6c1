# One image for web (gunicorn), worker and beat (Celery); docker-compose.yml
# picks the command. Build: docker build -t parapet .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings

WORKDIR /app

# Dependencies first, from the full pinned lock, so a code change reuses this
# layer. Every pinned package ships manylinux wheels (psycopg[binary], ...), so
# no compiler is needed.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the project itself. It runs from its source tree (manage.py,
# `celery -A config`), which is how Django deploys; it is not pip-installed.
COPY . .

# Static files are collected at build time, so the containers never write to
# /app. Settings need a DATABASE_URL to import (and would otherwise start the
# embedded PostgreSQL); collectstatic never connects to it.
RUN DATABASE_URL=postgres://build@localhost:5432/build \
    python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --create-home --uid 10001 parapet
USER parapet

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]

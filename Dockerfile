# CX Platform application image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 cx
COPY pyproject.toml README.md ./
COPY cxplatform cxplatform
COPY accounts accounts
COPY support support
COPY success success
COPY metrics metrics
RUN pip install .
COPY manage.py ./
COPY templates templates
COPY static static
# collectstatic needs settings; these build-time values are never used at run time.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only-not-a-secret-0123456789abcdef DEBUG=0 \
    python manage.py collectstatic --noinput
USER cx
EXPOSE 8000
CMD ["gunicorn", "cxplatform.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]

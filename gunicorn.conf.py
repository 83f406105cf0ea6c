"""gunicorn's settings for ``make serve`` (gunicorn reads this file from the working folder).

Everything can be changed from the environment: ``GUNICORN_BIND`` (default 127.0.0.1:8000,
behind the TLS proxy), ``WEB_CONCURRENCY`` (worker processes, default 2 per CPU + 1),
``GUNICORN_THREADS`` and ``GUNICORN_TIMEOUT``.
"""

import multiprocessing
import os

wsgi_app = "cipn_lab.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A statistics page of a large study takes seconds, not minutes: a request stuck longer than
# this is a fault, and its worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# The proxy in front terminates TLS and says so in X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
# Load the application once in the master and import the whole statistics stack there (see
# ``when_ready``): workers fork with it in memory, and no user waits seconds for a worker's first
# dashboard to import pandas, SciPy, statsmodels and Plotly.
preload_app = True
# Restart each worker now and then, so that a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200


def when_ready(server):
    """Import every view, and the mixed model the dashboards fit, before the workers fork."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  importing the URLconf imports every view module
    import statsmodels.regression.mixed_linear_model  # noqa: F401  imported lazily by stats.py

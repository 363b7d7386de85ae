"""The portal's own settings (from the environment, as in production) plus the bare view bench.web compares with.

Only bench.web's gunicorn loads this module (DJANGO_SETTINGS_MODULE=bench.web_settings): the bare view is in
bench.web_urls, which portal.urls never includes, so no deployed portal can reach it.
"""
from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web_urls"

"""The portal's Django project: settings, URLs, the Celery app, identity, audit and the site shell."""
from .celery import app as celery_app

__all__ = ["celery_app"]

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Claim and submit with an API token take a short path (labeling/api/hotpath.py); all else is Django's.
from labeling.api.hotpath import QueueHotPath  # noqa: E402 - needs the app registry set up above

application = QueueHotPath(django_application)

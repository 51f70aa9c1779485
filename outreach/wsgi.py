import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from core.logging import install_access_log_filters
from outreach.middleware import ChunkedBodyReader

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
# A chunked body is read before Django builds the request (it would read it as empty).
application = ChunkedBodyReader(get_wsgi_application())
install_access_log_filters()  # no client address, token or query string in access logs
get_resolver().check()  # imports every view now (the first request would), then freeze

# Everything loaded so far (Django, the apps, their modules) lives as long as the process: move
# it out of the garbage collector's view, so full collections no longer scan it on every
# request path (pauses of tens of milliseconds, measured in the tail latency).
gc.freeze()

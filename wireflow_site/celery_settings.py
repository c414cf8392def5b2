"""Celery's settings: the CELERY_* names of Django's settings, copied into a plain dict once,
when Celery first reads its configuration.

Celery reads its configuration on every task sent (the serializer, the routes, the default
queue and more: five reads per `apply_async`), and a read tries each of a setting's names (the
prefixed, the plain and the old one) in turn against each source. Against Django's settings
object every miss is a `LazySettings.__getattr__` raising AttributeError, and most settings
are Celery's defaults, so misses are the rule: a sixth of a task send's CPU went there. A dict
answers a miss at C speed. The price: settings changed after start-up (override_settings in a
test) do not reach Celery, as they would not reach a running worker either.
"""

from django.conf import settings

SETTINGS = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}

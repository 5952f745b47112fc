"""WSGI entry point for gunicorn or another WSGI server: ``gunicorn 'lti_tool.wsgi:app'``.

``upstander serve`` is the supported way to run (it migrates, runs the delivery loop and sums the
metrics of every worker); this entry point gives the same app and the same JSON logs, without those.
"""

from lti_tool import create_app
from lti_tool.ops import logs

app = create_app()
logs.configure(app.config, "json")

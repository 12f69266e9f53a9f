"""The orders API of ``examples/fastapi_app``, in Flask: same routes, same answers.

Run it from the repository root with ``flask --app examples.flask_app.app run`` or
``gunicorn examples.flask_app.app:app`` (see README.md beside this file).
"""

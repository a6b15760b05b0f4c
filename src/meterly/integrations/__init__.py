"""Optional integrations with the frameworks apps already use: `fastapi`, `django`, `flask`, `otel`.

Each module imports its framework when it is itself imported (never by `import meterly`), and says
which extra to install when the framework is missing.
"""

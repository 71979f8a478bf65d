"""One module per domain; each registers its routes with ``setup(app, deps)``."""

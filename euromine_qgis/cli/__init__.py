"""The ``euromine`` command."""

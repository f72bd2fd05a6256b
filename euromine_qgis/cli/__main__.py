"""``python -m euromine_qgis.cli``: the ``euromine`` command."""
import sys

from .main import main

sys.exit(main())

"""Installing onnxruntime beside QGIS's own Python packages, without QGIS (so every decision is
unit-testable): what QGIS's Python is on each platform and how its shells quote (platforms), what to
install where with which command (plan), and the install itself: staged, checked, then renamed into
place and put on ``sys.path`` (install). The plugin's message bar and euromine:installdependencies
are thin callers of ``install.install_onnxruntime``."""

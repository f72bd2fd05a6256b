"""A STAC API on loopback for the archive tests: the server (server), the generated scenes and
their item JSON in the three collection shapes (scenes), the catalogues the server answers with,
kept under build/ (catalogues), and the numpy reference of the composites (reference)."""

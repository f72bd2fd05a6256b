"""Maps made by the engine: annual footprints, the temporal filter, change layers and change between two dates."""

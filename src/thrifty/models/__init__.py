"""Models: the bundled catalog, pulling and caching, and safe loading."""

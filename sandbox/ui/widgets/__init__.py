"""The dashboard's panels, one widget per module, each with its DEFAULT_CSS."""

"""The pure core: storage formats, crypto, validation, models and events. No I/O, no UI."""

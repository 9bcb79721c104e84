"""Backends: the simulator, real local processes, and kind, behind one contract (base.Backend)."""

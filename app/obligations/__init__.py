"""Obligations per incident (materialised from the engine's decision) and their deadline sweeps."""

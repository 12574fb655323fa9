"""Intake from incident-response tools (TheHive, DFIR-IRIS, generic JSON with a mapping) into incidents."""

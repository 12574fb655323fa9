"""Tabletop scenarios: a whole breach response, from a real HHS breach-portal record to verified proof of
notice, run against the sandbox protocol peers."""

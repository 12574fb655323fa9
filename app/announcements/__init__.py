"""Substitute notice (public announcement) decisions, public notice pages and feeds."""

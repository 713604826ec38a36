"""Reliability and security suite: load, crashes, store and database faults, hostile input and users."""

"""Fault injection: a registry of named faults, and a ledger so every fault gets healed."""

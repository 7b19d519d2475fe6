"""Custodian adapters: one module per custodian file format."""

"""Contracts shared by ccserver's packages (cti, acd, ivr and the shell).

Names that more than one package, or ccserver and Asterisk, must agree on are
defined once here. This package imports nothing of ours, so any layer may use
it; import-linter (pyproject.toml) keeps it that way.
"""

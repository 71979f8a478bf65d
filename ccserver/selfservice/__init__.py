"""The IVR's ports, implemented by the shell.

``ivr`` says what it needs as Protocols (``ivr.accounts.AccountBackend``,
``ivr.records.SelfServiceStore``); these modules are the implementations:
SQL over ccserver's own database, and the billing system over HTTP.
"""

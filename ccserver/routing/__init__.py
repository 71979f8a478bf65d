"""The routing plugin: the ACD engine kept in step with Asterisk.

``state`` (engine loop, correlation), ``delivery`` (effects → AMI actions),
``translate`` (AMI events → ACD events), ``resync`` (restore and
reconciliation), ``reconcile`` (the pure rules of reconciliation), ``restore``
(what a restarted server reads back from the store); assembled as
``ccserver.orchestrator.Orchestrator``.
"""

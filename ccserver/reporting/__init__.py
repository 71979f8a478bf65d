"""Reports: call records folded from the event log, and the KPIs computed from them."""

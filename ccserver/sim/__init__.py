"""A protocol-faithful Asterisk simulator: AMI server, channel model, FastAGI client."""

from .internode import link_trunk
from .scenario import Scenario, ScenarioError, default_scenario, load_scenario, parse_scenario
from .server import AsteriskSimulator, CallerRecord, CallHandle

__all__ = [
    "AsteriskSimulator",
    "CallHandle",
    "CallerRecord",
    "Scenario",
    "ScenarioError",
    "default_scenario",
    "link_trunk",
    "load_scenario",
    "parse_scenario",
]

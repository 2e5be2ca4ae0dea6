"""Octavia provider driver ``loxilb``.

The driver is deliberately thin: Octavia's API process calls it synchronously,
and all real work (validation, journaling, LoxiLB programming, status
reporting through the driver agent) happens in the loxilb-coordinator daemon.
This package only translates provider calls into the daemon's ingress API and
the daemon's answers back into octavia-lib exceptions.
"""

from octavia_loxilb_provider.driver import LoxiLBProviderDriver

__all__ = ["LoxiLBProviderDriver"]

"""LoxiLBProviderDriver: Octavia's provider interface, forwarded to the daemon.

Every object-changing call becomes ``POST /v1/events`` with the method name
and its arguments under octavia-lib's parameter names. The daemon validates
and journals the event and answers at once (202); it reports the outcome
later through Octavia's driver agent, which is how Octavia expects providers
to work. The daemon's refusals map onto octavia-lib's exceptions:

- ``unsupported`` -> UnsupportedOptionError (Octavia answers 501, so tempest
  and clients can tell "not offered" from "broken");
- anything else, including an unreachable daemon -> DriverError, with a
  user-facing string and a detailed operator string for Octavia's log.

L7 calls are forwarded too so the daemon stays the single place that decides
what is supported and words the fault strings.
"""

import logging

from octavia_lib.api.drivers import exceptions
from octavia_lib.api.drivers import provider_base

from octavia_loxilb_provider import metadata
from octavia_loxilb_provider.client import (
    DaemonClient,
    DaemonProtocolError,
    DaemonUnavailable,
)
from octavia_loxilb_provider.convert import to_wire
from octavia_loxilb_provider.settings import (
    DEFAULT_SOCKET_PATH,
    DEFAULT_TIMEOUT,
    Settings,
    SettingsError,
)

LOG = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"


class LoxiLBProviderDriver(provider_base.ProviderDriver):
    """Octavia provider ``loxilb``.

    Octavia constructs drivers without arguments; ``socket_path`` and
    ``timeout`` exist for tests and embedding and default to the settings
    (environment over ``octavia.conf`` ``[loxilb_coordinator]``, see
    ``settings.py``). Bad settings do not stop the driver from loading (that
    would be an opaque 500): every call then answers with a clear fault.
    """

    def __init__(self, socket_path=None, timeout=None):
        super().__init__()
        self._settings_error = None
        try:
            s = Settings.load()
        except SettingsError as e:
            LOG.error("loxilb provider misconfigured: %s", e)
            self._settings_error = e
            s = Settings(socket_path=DEFAULT_SOCKET_PATH, timeout=DEFAULT_TIMEOUT)
        if socket_path is not None:
            s = Settings(socket_path=socket_path, timeout=s.timeout)
        self._client = DaemonClient.from_settings(s, timeout)
        self._target = self._client.url or self._client.socket_path

    @property
    def socket_path(self):
        return self._client.socket_path

    # -- forwarding -------------------------------------------------------

    def _forward(self, method, **args):
        """Sends one event; returns the daemon's answer or raises."""
        if self._settings_error is not None:
            raise exceptions.DriverError(
                user_fault_string=(
                    "The loxilb provider is misconfigured. "
                    "Please contact your cloud operator."
                ),
                operator_fault_string=(
                    f"loxilb provider setting refused: {self._settings_error}"
                ),
            )
        body = {"method": method, "args": {k: to_wire(v) for k, v in args.items()}}
        try:
            status, answer = self._client.request("POST", EVENTS_PATH, body)
        except DaemonUnavailable as e:
            LOG.error("loxilb-coordinator unreachable at %s for %s: %s",
                      self._target, method, e)
            raise exceptions.DriverError(
                user_fault_string=(
                    "The loxilb provider is temporarily unavailable. "
                    "Please try again later."
                ),
                operator_fault_string=(
                    f"cannot reach loxilb-coordinator at {self._target} "
                    f"for {method}: {e}"
                ),
            ) from e
        except DaemonProtocolError as e:
            raise exceptions.DriverError(
                user_fault_string="The loxilb provider failed to process the request.",
                operator_fault_string=(
                    f"loxilb-coordinator at {self._target} gave an unreadable "
                    f"answer to {method}: {e}"
                ),
            ) from e
        if status in (200, 202):
            if answer.get("state") == "failed":
                # Synchronous mode: the daemon has already reported ERROR for
                # the object through the driver agent; raising here as well
                # would roll back Octavia's own change and disagree with it.
                LOG.warning("loxilb-coordinator event %s (%s) failed: %s",
                            answer.get("id"), method, answer.get("reason"))
            else:
                LOG.debug("loxilb-coordinator accepted %s as event %s (%s)",
                          method, answer.get("id"), answer.get("state"))
            return answer
        raise self._refusal(method, status, answer)

    def _refusal(self, method, status, answer):
        """The octavia-lib exception for a non-success answer."""
        kind = answer.get("error")
        message = answer.get("message") or f"HTTP {status}"
        if kind == "unsupported":
            user = answer.get("user_fault_string") or message
            operator = answer.get("operator_fault_string") or user
            return exceptions.UnsupportedOptionError(
                user_fault_string=user, operator_fault_string=operator
            )
        if kind == "invalid":
            return exceptions.DriverError(
                user_fault_string=f"The loxilb provider rejected the request: {message}",
                operator_fault_string=(
                    f"loxilb-coordinator refused {method} as invalid "
                    f"(field {answer.get('field')!r}): {message}"
                ),
            )
        LOG.error("loxilb-coordinator answered HTTP %s to %s: %s", status, method, answer)
        return exceptions.DriverError(
            user_fault_string="The loxilb provider failed to process the request.",
            operator_fault_string=(
                f"loxilb-coordinator answered HTTP {status} ({kind or 'no error code'}) "
                f"to {method}: {message}"
            ),
        )

    # -- VIP port: Octavia allocates it -------------------------------------

    def create_vip_port(self, loadbalancer_id, project_id, vip_dictionary,
                        additional_vip_dicts=None):
        # Octavia's API catches this and allocates the VIP port itself, which
        # is what we want: LoxiLB only needs the address.
        raise exceptions.NotImplementedError(
            user_fault_string="The loxilb provider does not create VIP ports.",
            operator_fault_string="loxilb lets Octavia allocate the VIP port.",
        )

    # -- load balancer ------------------------------------------------------

    def loadbalancer_create(self, loadbalancer):
        self._check_lb_flavor(loadbalancer)
        self._forward("loadbalancer_create", loadbalancer=loadbalancer)

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        self._forward("loadbalancer_delete", loadbalancer=loadbalancer, cascade=cascade)

    def loadbalancer_failover(self, loadbalancer_id):
        self._forward("loadbalancer_failover", loadbalancer_id=loadbalancer_id)

    def loadbalancer_failover_with_flavor(self, loadbalancer_id, flavor_id):
        self._forward("loadbalancer_failover_with_flavor",
                      loadbalancer_id=loadbalancer_id, flavor_id=flavor_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        self._forward("loadbalancer_update", old_loadbalancer=old_loadbalancer,
                      new_loadbalancer=new_loadbalancer)

    # -- listener -----------------------------------------------------------

    def listener_create(self, listener):
        self._forward("listener_create", listener=listener)

    def listener_delete(self, listener):
        self._forward("listener_delete", listener=listener)

    def listener_update(self, old_listener, new_listener):
        self._forward("listener_update", old_listener=old_listener,
                      new_listener=new_listener)

    # -- pool ---------------------------------------------------------------

    def pool_create(self, pool):
        self._forward("pool_create", pool=pool)

    def pool_delete(self, pool):
        self._forward("pool_delete", pool=pool)

    def pool_update(self, old_pool, new_pool):
        self._forward("pool_update", old_pool=old_pool, new_pool=new_pool)

    # -- member -------------------------------------------------------------

    def member_create(self, member):
        self._forward("member_create", member=member)

    def member_delete(self, member):
        self._forward("member_delete", member=member)

    def member_update(self, old_member, new_member):
        self._forward("member_update", old_member=old_member, new_member=new_member)

    def member_batch_update(self, pool_id, members):
        self._forward("member_batch_update", pool_id=pool_id, members=list(members))

    # -- health monitor -----------------------------------------------------

    def health_monitor_create(self, healthmonitor):
        self._forward("health_monitor_create", healthmonitor=healthmonitor)

    def health_monitor_delete(self, healthmonitor):
        self._forward("health_monitor_delete", healthmonitor=healthmonitor)

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        self._forward("health_monitor_update", old_healthmonitor=old_healthmonitor,
                      new_healthmonitor=new_healthmonitor)

    # -- L7 (the daemon refuses them as unsupported) -------------------------

    def l7policy_create(self, l7policy):
        self._forward("l7policy_create", l7policy=l7policy)

    def l7policy_delete(self, l7policy):
        self._forward("l7policy_delete", l7policy=l7policy)

    def l7policy_update(self, old_l7policy, new_l7policy):
        self._forward("l7policy_update", old_l7policy=old_l7policy,
                      new_l7policy=new_l7policy)

    def l7rule_create(self, l7rule):
        self._forward("l7rule_create", l7rule=l7rule)

    def l7rule_delete(self, l7rule):
        self._forward("l7rule_delete", l7rule=l7rule)

    def l7rule_update(self, old_l7rule, new_l7rule):
        self._forward("l7rule_update", old_l7rule=old_l7rule, new_l7rule=new_l7rule)

    # -- flavor and availability-zone metadata (answered here) --------------

    def get_supported_flavor_metadata(self):
        return metadata.descriptions(metadata.FLAVOR_SCHEMA)

    def validate_flavor(self, flavor_metadata):
        metadata.validate(metadata.FLAVOR_SCHEMA, flavor_metadata, "flavor")

    def get_supported_availability_zone_metadata(self):
        return metadata.descriptions(metadata.AVAILABILITY_ZONE_SCHEMA)

    def validate_availability_zone(self, availability_zone_metadata):
        metadata.validate(metadata.AVAILABILITY_ZONE_SCHEMA,
                          availability_zone_metadata, "availability zone")

    def _check_lb_flavor(self, loadbalancer):
        """Re-checks the values of our keys in a new load balancer's flavor.

        Octavia validated the flavor profile when it was created, but the
        daemon trusts these values, so a profile written before a value was
        withdrawn must not slip through. Keys that are not ours are left
        alone: Octavia may add its own to the dict it passes.
        """
        flavor = getattr(loadbalancer, "flavor", None)
        if not isinstance(flavor, dict):
            return
        ours = {k: v for k, v in flavor.items()
                if k in metadata.FLAVOR_SCHEMA["properties"]}
        metadata.validate(metadata.FLAVOR_SCHEMA, ours, "flavor")

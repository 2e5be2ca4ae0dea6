"""``loxilb-coordinator-sync``: adopt Octavia's load balancers into the daemon.

Reads every load balancer of one provider (``loxilb`` by default), with its
whole tree, from Octavia's database through Octavia's own repository code,
converts it with Octavia's provider conversion and this package's
``convert.to_wire`` (exactly what the provider plugin sends), compares it
with the daemon's desired state (``GET /v1/desired/loadbalancers/{id}``) and,
unless ``--dry-run``, sends the provider events that make the daemon agree.

Modules, one concern each: ``octavia_db`` (reading Octavia), ``tree`` (one
load balancer as flat wire objects), ``diff`` (what differs), ``events``
(the provider events for a tree and for what only the daemon holds),
``daemon`` (reading desired state, sending events, waiting for outcomes),
``cli`` (options, output and exit codes).

Octavia itself is imported only here, never by the provider plugin: the tool
runs on a controller where Octavia is installed.
"""

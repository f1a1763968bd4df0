"""``crm-admin``: the operator's commands (users, dead-lettered events, audit chains, status).

It talks to the databases and the broker directly, with the same environment variables as the
services, and goes through the services' own use-case functions so every change it makes is an
event like any other, audited with the actor ``crm-admin``.
"""

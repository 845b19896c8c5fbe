"""The tenancy layer, between the plumbing (``core``) and the domains.

It owns who belongs where: people, organizations, memberships and their invitations, projects and
project roles, THE list of roles (:mod:`.roles`), the request contexts (:mod:`.context`) and the guard
that every service call passes (:mod:`.guard`).
"""

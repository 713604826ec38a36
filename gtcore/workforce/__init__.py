"""The private workforce: users and roles, the roster, work teams, invitations with temporary passwords,
passwords, sign-in sessions and throttling.

Imports: gtcore.context, gtcore.storage, gtcore.core.
"""

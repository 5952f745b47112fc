"""xAPI statements, delivery and the built-in LRS.

Never imports ``lti_tool``. Empty in this version: the statements, the outbox worker and the
learning record store arrive with their own issues (see README "Status").
"""

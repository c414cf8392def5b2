WORKFLOWS_READ = "workflows:read"
WORKFLOWS_WRITE = "workflows:write"
WORKFLOWS_EXECUTE = "workflows:execute"
EXECUTIONS_READ = "executions:read"
USAGE_READ = "usage:read"
TEAM_MANAGE = "team:manage"  # members, invitations, provider keys

ALL_SCOPES = [WORKFLOWS_READ, WORKFLOWS_WRITE, WORKFLOWS_EXECUTE, EXECUTIONS_READ, USAGE_READ,
              TEAM_MANAGE]
# What a viewer may give a key of theirs.
READ_SCOPES = frozenset({WORKFLOWS_READ, EXECUTIONS_READ, USAGE_READ})

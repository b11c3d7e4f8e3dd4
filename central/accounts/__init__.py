"""Accounts: users with a role and a scope, passwords, sessions, API tokens, sign-in throttling."""

"""Writes of provisioning. Every status change goes through one function here: it checks the actor's
permission, moves the status by compare-and-set against the transition table, writes the audit event in the
same transaction, and enqueues work only after commit."""

"""The audit trail: one entry per decision, field names only, never values (DESIGN §6)."""

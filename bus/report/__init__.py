"""Per-agency scorecards computed from the audit archive, the agreements and the agency directory."""

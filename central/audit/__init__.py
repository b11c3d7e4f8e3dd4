"""The audit trail: every change made on the district side, who, when and what; append-only."""

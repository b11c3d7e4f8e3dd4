"""The supervisors' loop: daily notices drafted and issued, each problem followed as a case until
it is verified, escalation by the district's rules."""

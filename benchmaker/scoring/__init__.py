"""Quality scoring: the examinee panel, the ten criteria, the extra checks and the report."""

"""The chaos campaign (a test tool): the campaign, the independent oracle and the hostile-input corpus."""

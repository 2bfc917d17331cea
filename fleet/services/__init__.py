"""Business logic: routes and the CLI stay thin and call these."""

"""How to run webleads-tracker: the local runner, the demo seed, infrastructure checks."""

"""The accounts service: accounts (comptes), contacts and picklists."""

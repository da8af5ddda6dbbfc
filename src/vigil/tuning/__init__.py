"""Tuning as a workflow (`vigil tune`): the noise report of the audit trail, the narrowest
fix for each noisy source, and writing the chosen fix where it belongs."""

"""The acts of OCAM's people on the hub: each one signed by a named member in their own GnuPG home, let through one
door (signed.accept) within the member's role (competence), and recorded under the member's name."""
